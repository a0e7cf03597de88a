package llama_test

import (
	"testing"

	"github.com/shimmer-llm/shimmer/internal/reftest"
	_ "github.com/shimmer-llm/shimmer/model/llama"
)

// The llama models of the reference data (stories260K, tiny-llama and the
// quantization matrix) match llama.cpp's logits on every native case;
// model/archs runs the same check over every architecture.
func TestReferenceLogits(t *testing.T) {
	for _, name := range reftest.ModelsOf(t, "stories260K", "tiny-llama") {
		t.Run(name, func(t *testing.T) { reftest.CheckModel(t, name).Report(t) })
	}
}
