// Package qwen3moe implements Qwen3's mixture-of-experts architecture
// (Qwen3-30B-A3B and its relatives): Qwen3 attention (per-head q/k RMS
// norms, NEOX rotary embeddings, head width from attention.key_length)
// and the shared sparse feed-forward block, each expert
// expert_feed_forward_length wide, the chosen experts' weights
// renormalised to sum 1.
package qwen3moe

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("qwen3moe", New) }

// New builds a Qwen3-MoE model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "qwen3moe")
	if err != nil {
		return nil, err
	}
	if h.Experts == 0 {
		return nil, fmt.Errorf("model: qwen3moe file without qwen3moe.expert_count")
	}
	ff, err := f.GetInt("qwen3moe.expert_feed_forward_length", int64(h.FF))
	if err != nil || ff <= 0 || ff > 1<<20 {
		return nil, fmt.Errorf("model: qwen3moe.expert_feed_forward_length %d: %v", ff, err)
	}
	h.FF = int(ff)
	h.RopeNeox = true
	return model.Load(f, h, model.Layout{QKNorm: true, Act: model.ActSiLU})
}
