// Package qwen3 implements the dense Qwen3 architecture: the Llama block
// with a per-head RMS norm of queries and keys (attn_q_norm, attn_k_norm)
// before NEOX-style rotary embeddings, no biases, and a head width taken
// from attention.key_length (q may be wider than the embedding).
package qwen3

import (
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("qwen3", New) }

// New builds a Qwen3 model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "qwen3")
	if err != nil {
		return nil, err
	}
	h.RopeNeox = true
	return model.Load(f, h, model.Layout{QKNorm: true, Act: model.ActSiLU})
}
