// Package demo carries a small real model inside the binary, so that
// shimmer runs on a machine with no model file and no network:
// stories260K (260 K parameters, trained on TinyStories; 1.2 MB of F32),
// under the MIT licence in LICENSE.stories260K beside this file.
package demo

import (
	_ "embed"
)

// Name is the demo model's name.
const Name = "stories260K"

//go:embed stories260K.gguf
var model string

// Model returns the demo model's GGUF file, in memory of its own (aligned
// for the tensor views; the caller may keep it).
func Model() []byte {
	// A fresh allocation is aligned for float32 views; the embedded
	// string's address carries no such promise.
	return []byte(model)
}
