package model

import (
	"fmt"
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Layout describes how an architecture stores a Decoder in GGUF beyond
// the common tensors (token_embd, output_norm, optional output — tied to
// the embedding when absent —, optional rope_freqs, and per layer
// attn_norm, attn_q/k/v, attn_output, ffn_norm, ffn_gate/up/down). Every
// flag set makes its tensors required.
type Layout struct {
	// QKVBias: attn_q.bias [QDim], attn_k.bias [KDim], attn_v.bias [VDim].
	QKVBias bool
	// QKNorm: attn_q_norm, attn_k_norm [HeadDim], per-head RMS norms
	// applied before RoPE.
	QKNorm bool
	// PostNorms: post_attention_norm, post_ffw_norm [Embd], RMS norms of
	// the attention and feed-forward outputs before the residual adds.
	PostNorms bool
	// FusedQKV: attn_qkv [Embd, QDim+KDim+VDim] holds the q, k, v rows in
	// that order; separate attn_q/k/v are accepted when it is absent.
	FusedQKV bool
	// FusedGateUp: ffn_up [Embd, 2·FF] holds the gate rows then the up
	// rows, and there is no ffn_gate.
	FusedGateUp bool
	// OBias: attn_output.bias [Embd].
	OBias bool
	// Sinks: attn_sinks [Heads], one attention-sink logit per query head.
	Sinks bool
	// FFNNorm names the norm before the feed-forward block ("" is
	// "ffn_norm"; gpt-oss calls it "post_attention_norm").
	FFNNorm string
	// ExpertBias: ffn_gate_inp.bias [Experts] and ffn_{gate,up}_exps.bias
	// [FF, Experts], ffn_down_exps.bias [Embd, Experts].
	ExpertBias bool
	// Gating is how a sparse block weighs its experts.
	Gating Gating
	// ScaleEmbed multiplies the token embeddings by sqrt(Embd) (gemma).
	ScaleEmbed bool
	// Act is the feed-forward activation.
	Act Activation
}

// Load reads the Decoder of layout l for hyperparameters h from f and
// records its traits in h.Features. Missing or misshapen tensors are
// reported by name with both shapes.
func Load(f *gguf.File, h *Hyper, l Layout) (*Decoder, error) {
	d := &Decoder{H: h, Act: l.Act}
	w := NewWeights(f)
	e, v := h.Embd, h.Vocab
	d.Embedding = w.Matrix("token_embd.weight", e, v)
	d.OutNorm = w.Vector("output_norm.weight", e)
	d.Output = w.OptionalMatrix("output.weight", e, v)
	tied := d.Output == nil
	if tied {
		d.Output = d.Embedding
	}
	d.RopeFreqs = w.OptionalVector("rope_freqs.weight", h.RopeDims/2)
	if l.ScaleEmbed {
		d.EmbedScale = float32(math.Sqrt(float64(e)))
	}
	fusedQKV := l.FusedQKV && w.Has("blk.0.attn_qkv.weight")
	d.Layers = make([]Layer, h.Layers)
	for i := range d.Layers {
		y := &d.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		y.AttnNorm = w.Vector(p+"attn_norm.weight", e)
		if fusedQKV {
			qkv := w.Split(p+"attn_qkv.weight", e, h.QDim(), h.KDim(), h.VDim())
			y.Q, y.K, y.V = qkv[0], qkv[1], qkv[2]
		} else {
			y.Q = w.Matrix(p+"attn_q.weight", e, h.QDim())
			y.K = w.Matrix(p+"attn_k.weight", e, h.KDim())
			y.V = w.Matrix(p+"attn_v.weight", e, h.VDim())
		}
		if l.QKVBias {
			y.QBias = w.Vector(p+"attn_q.bias", h.QDim())
			y.KBias = w.Vector(p+"attn_k.bias", h.KDim())
			y.VBias = w.Vector(p+"attn_v.bias", h.VDim())
		}
		if l.QKNorm {
			y.QNorm = w.Vector(p+"attn_q_norm.weight", h.HeadDim)
			y.KNorm = w.Vector(p+"attn_k_norm.weight", h.HeadDim)
		}
		y.O = w.Matrix(p+"attn_output.weight", h.Heads*h.ValueDim, e)
		if l.OBias {
			y.OBias = w.Vector(p+"attn_output.bias", e)
		}
		if l.Sinks {
			y.Sinks = w.Vector(p+"attn_sinks.weight", h.Heads)
		}
		ffnNorm := l.FFNNorm
		if ffnNorm == "" {
			ffnNorm = "ffn_norm"
		}
		y.FFNNorm = w.Vector(p+ffnNorm+".weight", e)
		if h.Experts > 0 {
			y.Router = w.Matrix(p+"ffn_gate_inp.weight", e, h.Experts)
			y.ExpGate = w.Experts(p+"ffn_gate_exps.weight", e, h.FF, h.Experts)
			y.ExpUp = w.Experts(p+"ffn_up_exps.weight", e, h.FF, h.Experts)
			y.ExpDown = w.Experts(p+"ffn_down_exps.weight", h.FF, e, h.Experts)
			y.Gating = l.Gating
			if l.ExpertBias {
				y.RouterBias = w.Vector(p+"ffn_gate_inp.bias", h.Experts)
				y.ExpGateBias = w.VectorRows(p+"ffn_gate_exps.bias", h.FF, h.Experts)
				y.ExpUpBias = w.VectorRows(p+"ffn_up_exps.bias", h.FF, h.Experts)
				y.ExpDownBias = w.VectorRows(p+"ffn_down_exps.bias", e, h.Experts)
			}
		} else if l.FusedGateUp {
			gu := w.Split(p+"ffn_up.weight", e, h.FF, h.FF)
			y.Gate, y.Up = gu[0], gu[1]
		} else {
			y.Gate = w.Matrix(p+"ffn_gate.weight", e, h.FF)
			y.Up = w.Matrix(p+"ffn_up.weight", e, h.FF)
		}
		if h.Experts == 0 {
			y.Down = w.Matrix(p+"ffn_down.weight", h.FF, e)
		}
		if l.PostNorms {
			y.AttnPost = w.Vector(p+"post_attention_norm.weight", e)
			y.FFNPost = w.Vector(p+"post_ffw_norm.weight", e)
		}
	}
	if err := w.Err(); err != nil {
		return nil, err
	}
	if p, ok := f.Get(h.Arch + ".pooling_type"); ok {
		v, ok := p.Int()
		if !ok || v < int64(PoolMean) || v > int64(PoolLast) {
			return nil, fmt.Errorf("model: %s.pooling_type %v: a decoder pools by mean, cls or last", h.Arch, p.Any())
		}
		d.Pool, d.HasPool = Pooling(v), true
		h.Features = append(h.Features, "pooling "+d.Pool.String())
	}
	h.Features = append(h.Features, l.features(fusedQKV, tied, d.RopeFreqs != nil)...)
	return d, nil
}

// features names the traits of a loaded layout for Hyper.Features.
func (l Layout) features(fusedQKV, tied, ropeFreqs bool) []string {
	var fs []string
	add := func(on bool, name string) {
		if on {
			fs = append(fs, name)
		}
	}
	add(l.QKVBias, "q/k/v bias")
	add(l.OBias, "output bias")
	add(l.Sinks, "attention sinks")
	add(l.ExpertBias, "router and expert biases")
	add(l.Gating == GateTopKSoftmax, "softmax over the chosen experts")
	add(l.QKNorm, "q/k norm")
	add(l.PostNorms, "post-norms")
	add(fusedQKV, "fused qkv")
	add(l.FusedGateUp, "fused gate/up")
	add(l.ScaleEmbed, "embeddings ×√n_embd")
	fs = append(fs, l.Act.String()+" gated ffn")
	add(ropeFreqs, "rope_freqs")
	add(tied, "tied embeddings")
	return fs
}
