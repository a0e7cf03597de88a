// Package llama implements the Llama architecture (Llama 1–3, Mistral,
// TinyLlama, SmolLM and other models stored as general.architecture
// "llama"): RMSNorm, rotary embeddings (NORM pairs, optional Llama 3
// rope_freqs divisors), grouped-query attention and a SwiGLU feed-forward
// network, with the output tied to the embedding when output.weight is
// absent.
package llama

import (
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("llama", New) }

// New builds a Llama model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "llama")
	if err != nil {
		return nil, err
	}
	return model.Load(f, h, model.Layout{Act: model.ActSiLU})
}
