// Package phi3 implements the Phi-3 architecture: the Llama block with a
// fused query/key/value projection (attn_qkv) and a fused gate/up
// projection (ffn_up holds the gate rows, then the up rows), NEOX-style
// rotary embeddings, and queries scaled by 1/sqrt(head width) before
// attention. The fused tensors are split once at load time into
// sub-matrices over the same mapped data.
//
// Like llama.cpp, it ignores attention.sliding_window (Phi-3 files carry
// one that llama.cpp disables). Long-context (128k) files with
// rope_factors_long/short are not supported.
package phi3

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("phi3", New) }

// New builds a Phi-3 model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "phi3")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"rope_factors_long.weight", "rope_factors_short.weight"} {
		if _, ok := f.Tensor(name); ok {
			return nil, fmt.Errorf("phi3: long-context rope factors (%s) are not supported", name)
		}
	}
	if h.HeadDim != h.ValueDim {
		return nil, fmt.Errorf("phi3: key width %d differs from value width %d", h.HeadDim, h.ValueDim)
	}
	h.RopeNeox = true
	h.ScaleQ = true
	h.Window = 0
	return model.Load(f, h, model.Layout{FusedQKV: true, FusedGateUp: true, Act: model.ActSiLU})
}
