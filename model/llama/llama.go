// Package llama implements the Llama architecture (Llama 1–3, Mistral,
// TinyLlama, SmolLM and other models stored as general.architecture
// "llama"): RMSNorm, rotary embeddings, grouped-query attention and a
// SwiGLU feed-forward network.
package llama

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("llama", New) }

// Layer holds the weights of one transformer block. Shapes are [cols rows]
// as in ggml (cols = input width).
type Layer struct {
	AttnNorm []float32       // [Embd]
	Q        *compute.Matrix // [Embd, QDim]
	K        *compute.Matrix // [Embd, KDim]
	V        *compute.Matrix // [Embd, VDim]
	O        *compute.Matrix // [Heads·ValueDim, Embd]
	FFNNorm  []float32       // [Embd]
	Gate     *compute.Matrix // [Embd, FF]
	Up       *compute.Matrix // [Embd, FF]
	Down     *compute.Matrix // [FF, Embd]
}

// Model is a loaded Llama model.
type Model struct {
	h         *model.Hyper
	Embedding *compute.Matrix // [Embd, Vocab]
	Layers    []Layer
	OutNorm   []float32       // [Embd]
	Output    *compute.Matrix // [Embd, Vocab]; the embedding when tied
	RopeFreqs []float32       // [RopeDims/2] frequency divisors, optional (Llama 3)
}

// New builds a Llama model from f.
func New(f *gguf.File) (model.Model, error) {
	h, err := model.ReadHyper(f, "llama")
	if err != nil {
		return nil, err
	}
	m := &Model{h: h}
	w := model.NewWeights(f)
	e, v := h.Embd, h.Vocab
	m.Embedding = w.Matrix("token_embd.weight", e, v)
	m.OutNorm = w.Vector("output_norm.weight", e)
	m.Output = w.OptionalMatrix("output.weight", e, v)
	if m.Output == nil {
		m.Output = m.Embedding
	}
	m.RopeFreqs = w.OptionalVector("rope_freqs.weight", h.RopeDims/2)
	m.Layers = make([]Layer, h.Layers)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		l.AttnNorm = w.Vector(p+"attn_norm.weight", e)
		l.Q = w.Matrix(p+"attn_q.weight", e, h.QDim())
		l.K = w.Matrix(p+"attn_k.weight", e, h.KDim())
		l.V = w.Matrix(p+"attn_v.weight", e, h.VDim())
		l.O = w.Matrix(p+"attn_output.weight", h.Heads*h.ValueDim, e)
		l.FFNNorm = w.Vector(p+"ffn_norm.weight", e)
		l.Gate = w.Matrix(p+"ffn_gate.weight", e, h.FF)
		l.Up = w.Matrix(p+"ffn_up.weight", e, h.FF)
		l.Down = w.Matrix(p+"ffn_down.weight", h.FF, e)
	}
	if err := w.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Hyper implements model.Model.
func (m *Model) Hyper() *model.Hyper { return m.h }

// Forward implements model.Model.
func (m *Model) Forward(s *model.State, b *model.Batch, logits []float32) error {
	if err := s.Check(b); err != nil {
		return err
	}
	h, n := m.h, b.Len()
	e := h.Embd
	x := s.X[:n*e]
	model.Embed(m.Embedding, b, x)
	rope := s.RopeAngles(0, b, h.RopeBase, m.RopeFreqs)
	for li := range m.Layers {
		l := &m.Layers[li]
		// Attention: x += O·attn(rope(Q·norm(x)), rope(K·norm(x)), V·norm(x)).
		model.RMSNormRows(s.XB, x, l.AttnNorm, n, h.NormEps)
		s.MatMul(l.Q, s.XB, n, s.Q)
		s.MatMul(l.K, s.XB, n, s.K)
		s.MatMul(l.V, s.XB, n, s.V)
		s.Rope(s.Q, n, h.Heads, h.HeadDim, rope)
		s.Rope(s.K, n, h.KVHeads, h.HeadDim, rope)
		s.Attention(li, b, s.Q, s.K, s.V, s.Att)
		s.MatMul(l.O, s.Att, n, s.XB)
		model.AddRows(x, s.XB, n, e)
		// Feed-forward: x += Down·(silu(Gate·norm(x)) ⊙ Up·norm(x)).
		model.RMSNormRows(s.XB, x, l.FFNNorm, n, h.NormEps)
		s.MatMul(l.Gate, s.XB, n, s.FF1)
		s.MatMul(l.Up, s.XB, n, s.FF2)
		kernels.SwiGLU(s.FF1[:n*h.FF], s.FF1[:n*h.FF], s.FF2[:n*h.FF])
		s.MatMul(l.Down, s.FF1, n, s.XB)
		model.AddRows(x, s.XB, n, e)
	}
	// Output: logits = Output·norm(x) for the rows that want them.
	nl := s.LogitRows(b)
	if nl == 0 {
		return nil
	}
	model.RMSNormRows(s.Out, s.Out, m.OutNorm, nl, h.NormEps)
	s.MatMul(m.Output, s.Out, nl, logits[:nl*h.Vocab])
	return nil
}
