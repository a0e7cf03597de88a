package model

import (
	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/kernels"
)

// Activation selects the nonlinearity of the gated feed-forward network.
type Activation int

const (
	// ActSiLU gives SwiGLU: silu(gate)·up.
	ActSiLU Activation = iota
	// ActGELU gives GeGLU: gelu(gate)·up with ggml's half-precision GELU
	// table (GELUFP16).
	ActGELU
	// ActSwiGLUOAI gives gpt-oss's clamped SwiGLU (kernels.SwiGLUOAI with
	// α 1.702 and limit 7).
	ActSwiGLUOAI
)

// String names the activation.
func (a Activation) String() string {
	switch a {
	case ActGELU:
		return "gelu"
	case ActSwiGLUOAI:
		return "clamped silu (oai)"
	}
	return "silu"
}

// Layer holds the weights of one pre-norm transformer block. Shapes are
// [cols rows] as in ggml (cols = input width). Optional weights are nil.
type Layer struct {
	AttnNorm []float32       // [Embd]
	Q        *compute.Matrix // [Embd, QDim]
	K        *compute.Matrix // [Embd, KDim]
	V        *compute.Matrix // [Embd, VDim]
	QBias    []float32       // [QDim], optional
	KBias    []float32       // [KDim], optional
	VBias    []float32       // [VDim], optional
	QNorm    []float32       // [HeadDim] RMS norm of each query head before RoPE, optional
	KNorm    []float32       // [HeadDim] RMS norm of each key head before RoPE, optional
	O        *compute.Matrix // [Heads·ValueDim, Embd]
	OBias    []float32       // [Embd], optional
	// Sinks holds one learned logit per query head that joins the
	// softmax of its attention scores and takes probability mass without
	// a value (gpt-oss), optional.
	Sinks    []float32       // [Heads]
	AttnPost []float32       // [Embd] RMS norm of the attention output, optional
	FFNNorm  []float32       // [Embd]
	Gate     *compute.Matrix // [Embd, FF]
	Up       *compute.Matrix // [Embd, FF]
	Down     *compute.Matrix // [FF, Embd]
	FFNPost  []float32       // [Embd] RMS norm of the feed-forward output, optional
	// A sparse feed-forward block (Hyper.Experts > 0) instead of
	// Gate/Up/Down: the router and per expert its gate, up, down.
	Router                  *compute.Matrix   // [Embd, Experts]
	ExpGate, ExpUp, ExpDown []*compute.Matrix // [Embd, FF], [Embd, FF], [FF, Embd] each
	// Gating selects how the router's logits weigh the chosen experts.
	Gating Gating
	// Optional biases of the router [Experts] and, per expert, of its
	// gate and up [FF] and down [Embd] outputs (gpt-oss).
	RouterBias                          []float32
	ExpGateBias, ExpUpBias, ExpDownBias [][]float32
}

// Gating is how a sparse block turns router logits into expert weights.
type Gating int

const (
	// GateSoftmax: softmax over all experts, the ExpertsUsed most
	// probable, their probabilities renormalised to sum 1 (Mixtral,
	// Qwen3-MoE).
	GateSoftmax Gating = iota
	// GateTopKSoftmax: the ExpertsUsed largest raw logits, then a softmax
	// over those alone (gpt-oss).
	GateTopKSoftmax
)

// Decoder is a decoder-only transformer of pre-norm blocks, the shape
// shared by Llama, Qwen2/3, Gemma 3, Phi-3 and their relatives: per layer
//
//	x += [AttnPost·] O·attention(rope(norm(Q·n + bq)), rope(norm(K·n + bk)), V·n + bv),  n = norm(x)
//	x += [FFNPost·] Down·(act(Gate·n) ⊙ Up·n),  n = norm(x)
//
// where the bracketed and bias/norm terms apply when their weights are
// present. Architectures fill one in (usually through Load) and return it
// as their model.Model.
type Decoder struct {
	H         *Hyper
	Embedding *compute.Matrix // [Embd, Vocab]
	// EmbedScale multiplies the token embeddings when non-zero (gemma:
	// sqrt(Embd)).
	EmbedScale float32
	Layers     []Layer
	OutNorm    []float32       // [Embd]
	Output     *compute.Matrix // [Embd, Vocab]; the embedding when tied
	RopeFreqs  []float32       // [RopeDims/2] frequency divisors, optional (Llama 3)
	Act        Activation
	// Pool is the pooling type the file declares (<arch>.pooling_type):
	// an embedding model built on a decoder (Qwen3-Embedding); HasPool
	// says it declares one.
	Pool    Pooling
	HasPool bool
}

// Hyper implements Model.
func (d *Decoder) Hyper() *Hyper { return d.H }

// Experts lists every expert matrix of the sparse blocks (nil for a
// dense model), for compute.Pool.Prepack.
func (d *Decoder) Experts() []*compute.Matrix {
	var ms []*compute.Matrix
	for i := range d.Layers {
		l := &d.Layers[i]
		ms = append(ms, l.ExpGate...)
		ms = append(ms, l.ExpUp...)
		ms = append(ms, l.ExpDown...)
	}
	return ms
}

// MultiplyF16AsBF16 makes every F16 matrix of m that activations multiply
// (Adaptable.Matrices and the experts) multiply as BF16
// (compute.Matrix.MultiplyAsBF16), before the first forward pass, and
// returns how many it changed: none where the CPU has no BF16 dot
// products.
func MultiplyF16AsBF16(m Model) int {
	var ms []*compute.Matrix
	if a, ok := m.(Adaptable); ok {
		ms = append(ms, a.Matrices()...)
	}
	if d, ok := m.(interface{ Experts() []*compute.Matrix }); ok {
		ms = append(ms, d.Experts()...)
	}
	n := 0
	for _, w := range ms {
		if w != nil && w.MultiplyAsBF16() {
			n++
		}
	}
	return n
}

// PrepackExperts repacks a sparse model's experts for the pool's tile
// kernels at once (dense weights are repacked by the first forward pass,
// which reads them all; an expert waits until a token chooses it).
func PrepackExperts(m Model, pool *compute.Pool) {
	if d, ok := m.(interface{ Experts() []*compute.Matrix }); ok {
		pool.Prepack(d.Experts())
	}
}

// Forward implements Model.
func (d *Decoder) Forward(s *State, b *Batch, logits []float32) error {
	nl, err := d.hidden(s, b)
	if err != nil || nl == 0 {
		return err
	}
	s.MatMul(d.Output, s.Out, nl, logits[:nl*d.H.Vocab])
	return nil
}

// hidden runs the layers over b and leaves the final-normed states of the
// entries that want logits in s.Out, returning how many there are.
func (d *Decoder) hidden(s *State, b *Batch) (int, error) {
	if err := s.Check(b); err != nil {
		return 0, err
	}
	h, n := d.H, b.Len()
	e := h.Embd
	x := s.X[:n*e]
	Embed(d.Embedding, b, x)
	if d.EmbedScale != 0 {
		kernels.Scale(x, d.EmbedScale)
	}
	rope, ropeSWA := d.ropeTables(s, b)
	for li := range d.Layers {
		l := &d.Layers[li]
		cs := rope
		if h.SWA[li] {
			cs = ropeSWA
		}
		s.NormRows(s.XB, x, l.AttnNorm, n, h.NormEps)
		d.attention(s, b, li, cs)
		if l.AttnPost != nil {
			s.NormRows(s.XB, s.XB, l.AttnPost, n, h.NormEps)
		}
		s.AddRows(x, s.XB, n, e)
		s.NormRows(s.XB, x, l.FFNNorm, n, h.NormEps)
		d.feedForward(s, l, n)
		if l.FFNPost != nil {
			s.NormRows(s.XB, s.XB, l.FFNPost, n, h.NormEps)
		}
		s.AddRows(x, s.XB, n, e)
	}
	nl := s.LogitRows(b)
	if nl > 0 {
		s.NormRows(s.Out, s.Out, d.OutNorm, nl, h.NormEps)
	}
	return nl, nil
}

// ropeTables returns the rotary tables of full-attention layers and of
// sliding-window layers (the same table when their parameters agree).
func (d *Decoder) ropeTables(s *State, b *Batch) (global, swa []float32) {
	h := d.H
	global = s.RopeAngles(0, b, h.RopeBase, h.RopeScale, d.RopeFreqs)
	if h.Window > 0 && (h.RopeBaseSWA != h.RopeBase || h.RopeScaleSWA != h.RopeScale) {
		return global, s.RopeAngles(1, b, h.RopeBaseSWA, h.RopeScaleSWA, d.RopeFreqs)
	}
	return global, global
}

// attention runs the attention sub-block of layer li on the normed rows
// s.XB and leaves its projected output in s.XB.
func (d *Decoder) attention(s *State, b *Batch, li int, cs []float32) {
	h, l, n := d.H, &d.Layers[li], b.Len()
	s.MatMul3(l.Q, l.K, l.V, s.XB, n, s.Q, s.K, s.V)
	if l.QBias != nil {
		AddBias(s.Q, l.QBias, n)
		AddBias(s.K, l.KBias, n)
		AddBias(s.V, l.VBias, n)
	}
	if l.QNorm != nil {
		RMSNormHeads(s.Q, l.QNorm, n, h.Heads, h.NormEps)
		RMSNormHeads(s.K, l.KNorm, n, h.KVHeads, h.NormEps)
	}
	s.Rope(s.Q, n, h.Heads, h.HeadDim, cs)
	s.Rope(s.K, n, h.KVHeads, h.HeadDim, cs)
	if h.ScaleQ {
		kernels.Scale(s.Q[:n*h.QDim()], h.AttnScale)
	}
	s.Attention(li, b, s.Q, s.K, s.V, s.Att, l.Sinks)
	s.MatMul(l.O, s.Att, n, s.XB)
	if l.OBias != nil {
		AddBias(s.XB, l.OBias, n)
	}
}

// feedForward runs the gated feed-forward network of l on the normed rows
// s.XB and leaves its output in s.XB.
func (d *Decoder) feedForward(s *State, l *Layer, n int) {
	if l.Router != nil {
		d.sparseFeedForward(s, l, n)
		return
	}
	ff := d.H.FF
	s.MatMul3(l.Gate, l.Up, nil, s.XB, n, s.FF1, s.FF2, nil)
	g, u := s.FF1[:n*ff], s.FF2[:n*ff]
	s.GLURows(g, g, u, n, ff, d.Act == ActGELU)
	s.MatMul(l.Down, s.FF1, n, s.XB)
}
