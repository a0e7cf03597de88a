// Package gemma3 implements the Gemma 3 text architecture: token
// embeddings scaled by sqrt(n_embd), RMS norms before and after both the
// attention and the feed-forward sub-blocks (stored with Gemma's +1
// already applied by the converter), per-head q/k norms, a GELU-gated
// feed-forward network, and interleaved attention: most layers see a
// sliding window with their own rotary base, every period-th layer sees
// the whole context.
package gemma3

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("gemma3", New) }

// Defaults llama.cpp applies when the file has no key for them.
const (
	swaPeriod   = 6     // attention.sliding_window_pattern
	ropeBaseSWA = 10000 // rope.freq_base_swa
)

// New builds a Gemma 3 model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "gemma3")
	if err != nil {
		return nil, err
	}
	if h.Window <= 0 {
		return nil, fmt.Errorf("gemma3: missing or zero gemma3.attention.sliding_window")
	}
	if err := model.ReadSWAPattern(f, h, swaPeriod); err != nil {
		return nil, err
	}
	m := &model.Meta{F: f, Arch: "gemma3"}
	h.RopeBaseSWA = m.Float("rope.freq_base_swa", ropeBaseSWA)
	h.RopeScaleSWA = 1
	if err := m.Err(); err != nil {
		return nil, err
	}
	h.RopeNeox = true
	h.ScaleQ = true
	if h.Layers == 62 {
		// llama.cpp's rule for Gemma 3 27B (query_pre_attn_scalar =
		// n_embd/n_head); every other size uses 1/sqrt(head width).
		h.AttnScale = model.InvSqrt(h.Embd / h.Heads)
	}
	return model.Load(f, h, model.Layout{QKNorm: true, PostNorms: true, ScaleEmbed: true, Act: model.ActGELU})
}
