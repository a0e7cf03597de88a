// Package qwen2 implements the Qwen2 architecture (Qwen2, Qwen2.5): the
// Llama block with biases on the query, key and value projections and
// NEOX-style rotary embeddings; the output is usually tied to the
// embedding.
package qwen2

import (
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("qwen2", New) }

// New builds a Qwen2 model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "qwen2")
	if err != nil {
		return nil, err
	}
	h.RopeNeox = true
	return model.Load(f, h, model.Layout{QKVBias: true, Act: model.ActSiLU})
}
