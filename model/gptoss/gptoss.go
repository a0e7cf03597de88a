// Package gptoss implements OpenAI's gpt-oss architecture (GGUF
// "gpt-oss"): attention with q/k/v/o biases, one learned sink logit per
// head, a sliding window on alternate layers (sliding_window_pattern,
// default 2: even layers windowed) and YaRN-scaled NEOX rotary
// embeddings; post_attention_norm as the norm before the feed-forward
// block, which is sparse: a router with a bias picks the top experts by
// raw logit and weighs them by a softmax over those alone, and each expert
// (with biases) applies the clamped SwiGLU of gpt-oss.
package gptoss

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("gpt-oss", New) }

// New builds a gpt-oss model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "gpt-oss")
	if err != nil {
		return nil, err
	}
	if h.Experts == 0 {
		return nil, fmt.Errorf("model: gpt-oss file without gpt-oss.expert_count")
	}
	ff, err := f.GetInt("gpt-oss.expert_feed_forward_length", 0)
	if err != nil || ff <= 0 || ff > 1<<20 {
		return nil, fmt.Errorf("model: gpt-oss.expert_feed_forward_length %d: %v", ff, err)
	}
	h.FF = int(ff)
	h.RopeNeox = true
	// llama.cpp scales scores by 1/sqrt(n_rot).
	h.AttnScale = model.InvSqrt(h.RopeDims)
	if err := model.ReadSWAPattern(f, h, 2); err != nil {
		return nil, err
	}
	if b, err := f.GetFloat("gpt-oss.rope.freq_base_swa", float64(h.RopeBase)); err == nil {
		h.RopeBaseSWA = float32(b)
	}
	return model.Load(f, h, model.Layout{
		QKVBias: true, OBias: true, Sinks: true,
		FFNNorm:    "post_attention_norm",
		ExpertBias: true, Gating: model.GateTopKSoftmax,
		Act: model.ActSwiGLUOAI,
	})
}
