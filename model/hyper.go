package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
)

// Hyper holds the hyperparameters every decoder-only transformer has.
// Architectures read them with ReadHyper and adjust what differs.
type Hyper struct {
	Arch     string
	Vocab    int // rows of the token embedding
	Embd     int // n_embd
	Layers   int
	Heads    int // query heads
	KVHeads  int // key/value heads
	HeadDim  int // key (and query) width per head
	ValueDim int // value width per head
	FF       int // feed-forward width
	CtxTrain int // context length the model was trained with
	// Experts and ExpertsUsed: a sparse feed-forward block of Experts
	// experts of which each token uses ExpertsUsed (0: dense).
	Experts, ExpertsUsed int
	NormEps              float32
	RopeBase             float32
	RopeScale            float32 // frequency scale (1/linear factor)
	RopeDims             int     // rotated dimensions per head
	RopeNeox             bool    // rotate (i, i+n/2) pairs instead of (2i, 2i+1)
	// Yarn is set for YaRN rope scaling (rope.scaling.type yarn): the
	// frequency ramp and magnitude scale of the angle tables.
	Yarn      *kernels.YaRN
	AttnScale float32 // multiplies q·k; 1/sqrt(HeadDim) by default
	// ScaleQ multiplies the queries by AttnScale after RoPE instead of
	// scaling the scores (gemma3, phi3 do so in llama.cpp; same value,
	// different rounding).
	ScaleQ bool
	Window int    // sliding-window size of SWA layers (0: none)
	SWA    []bool // per layer: uses the sliding window
	// RopeBaseSWA and RopeScaleSWA replace RopeBase and RopeScale on
	// sliding-window layers (equal to them unless the architecture says
	// otherwise, as gemma3 does).
	RopeBaseSWA  float32
	RopeScaleSWA float32
	// LayerNorm: the norms are LayerNorms (mean and variance, with bias)
	// rather than RMS norms (BERT).
	LayerNorm bool
	// Features names the architecture's traits for display ("qkv bias",
	// "q/k norm", "tied embeddings", …); set by the architecture.
	Features []string
}

// QDim is the width of all query heads together.
func (h *Hyper) QDim() int { return h.Heads * h.HeadDim }

// KDim is the width of the keys of one token (all KV heads).
func (h *Hyper) KDim() int { return h.KVHeads * h.HeadDim }

// VDim is the width of the values of one token (all KV heads).
func (h *Hyper) VDim() int { return h.KVHeads * h.ValueDim }

// Meta reads "<arch>.<name>" keys with errors that name the key.
type Meta struct {
	F    *gguf.File
	Arch string
	err  error
}

// Err returns the first error met.
func (m *Meta) Err() error { return m.err }

func (m *Meta) key(name string) string { return m.Arch + "." + name }

// Int reads an integer key; required keys without a value are an error.
func (m *Meta) Int(name string, def int64, required bool) int {
	if m.err != nil {
		return 0
	}
	k := m.key(name)
	if required && !m.F.Has(k) {
		m.err = fmt.Errorf("model: missing metadata key %q", k)
		return 0
	}
	v, err := m.F.GetInt(k, def)
	if err != nil {
		m.err = fmt.Errorf("model: %w", err)
		return 0
	}
	if v < 0 || v > 1<<40 {
		m.err = fmt.Errorf("model: metadata key %q has value %d", k, v)
		return 0
	}
	return int(v)
}

// Float reads a numeric key.
func (m *Meta) Float(name string, def float64) float32 {
	if m.err != nil {
		return 0
	}
	v, err := m.F.GetFloat(m.key(name), def)
	if err != nil {
		m.err = fmt.Errorf("model: %w", err)
		return 0
	}
	return float32(v)
}

// String reads a string key.
func (m *Meta) String(name, def string) string {
	if m.err != nil {
		return ""
	}
	v, err := m.F.GetString(m.key(name), def)
	if err != nil {
		m.err = fmt.Errorf("model: %w", err)
	}
	return v
}

// ReadHyper reads the common hyperparameters of arch. Vocab is taken from
// the token embedding.
func ReadHyper(f *gguf.File, arch string) (*Hyper, error) {
	m := &Meta{F: f, Arch: arch}
	h := &Hyper{Arch: arch}
	h.Embd = m.Int("embedding_length", 0, true)
	h.Layers = m.Int("block_count", 0, true)
	h.FF = m.Int("feed_forward_length", 0, true)
	h.Heads = m.Int("attention.head_count", 0, true)
	h.KVHeads = m.Int("attention.head_count_kv", int64(h.Heads), false)
	h.CtxTrain = m.Int("context_length", 2048, false)
	h.Experts = m.Int("expert_count", 0, false)
	h.ExpertsUsed = m.Int("expert_used_count", 0, false)
	if m.err == nil && (h.Heads == 0 || h.Embd == 0 || h.Layers == 0) {
		return nil, fmt.Errorf("model: %s.embedding_length, block_count and attention.head_count must be positive", arch)
	}
	if m.err != nil {
		return nil, m.err
	}
	// Bound every count by what the file can hold before anything is sized
	// from it: each layer has tensors of its own, and no width exceeds 2^20.
	if h.Layers > len(f.Tensors) {
		return nil, fmt.Errorf("model: %s.block_count %d is more than the file's %d tensors can hold", arch, h.Layers, len(f.Tensors))
	}
	const maxWidth = 1 << 20
	if h.Experts > 1024 || h.ExpertsUsed > h.Experts || h.Experts > 0 && h.ExpertsUsed == 0 {
		return nil, fmt.Errorf("model: %s.expert_count %d with expert_used_count %d", arch, h.Experts, h.ExpertsUsed)
	}
	for _, c := range []struct {
		key string
		v   int
	}{{"embedding_length", h.Embd}, {"feed_forward_length", h.FF}, {"attention.head_count", h.Heads}, {"attention.head_count_kv", h.KVHeads}} {
		if c.v < 0 || c.v > maxWidth {
			return nil, fmt.Errorf("model: %s.%s %d is out of range [0, %d]", arch, c.key, c.v, maxWidth)
		}
	}
	h.HeadDim = m.Int("attention.key_length", int64(h.Embd/h.Heads), false)
	h.ValueDim = m.Int("attention.value_length", int64(h.HeadDim), false)
	h.NormEps = m.Float("attention.layer_norm_rms_epsilon", 1e-5)
	h.RopeBase = m.Float("rope.freq_base", 10000)
	h.RopeDims = m.Int("rope.dimension_count", int64(h.HeadDim), false)
	h.RopeScale = 1
	if t := m.String("rope.scaling.type", ""); t == "linear" || t == "" {
		if fac := m.Float("rope.scaling.factor", 0); fac > 0 {
			h.RopeScale = 1 / fac
		} else if fac := m.Float("rope.scale_linear", 0); fac > 0 {
			h.RopeScale = 1 / fac
		}
	} else if t == "yarn" {
		if fac := m.Float("rope.scaling.factor", 0); fac > 0 {
			h.RopeScale = 1 / fac
		}
		orig := m.Int("rope.scaling.original_context_length", int64(h.CtxTrain), false)
		attn := m.Float("rope.scaling.attn_factor", 1)
		if m.err != nil {
			return nil, m.err
		}
		h.Yarn = yarn(h.RopeDims, orig, h.RopeBase, h.RopeScale, attn)
	} else if t != "none" {
		return nil, fmt.Errorf("model: rope scaling type %q is not supported", t)
	}
	h.Window = m.Int("attention.sliding_window", 0, false)
	if m.err != nil {
		return nil, m.err
	}
	switch {
	case h.HeadDim < 0 || h.HeadDim > maxWidth || h.ValueDim < 0 || h.ValueDim > maxWidth || int64(h.Heads)*int64(max(h.HeadDim, h.ValueDim)) > 1<<24:
		return nil, fmt.Errorf("model: head width %d/%d × %d heads is out of range", h.HeadDim, h.ValueDim, h.Heads)
	case h.KVHeads == 0 || h.Heads%h.KVHeads != 0:
		return nil, fmt.Errorf("model: %d query heads cannot share %d key/value heads", h.Heads, h.KVHeads)
	case h.HeadDim == 0 || h.ValueDim == 0 || h.FF == 0:
		return nil, fmt.Errorf("model: zero head or feed-forward width")
	case h.RopeDims > h.HeadDim || h.RopeDims%2 != 0:
		return nil, fmt.Errorf("model: %s.rope.dimension_count %d does not fit head width %d", arch, h.RopeDims, h.HeadDim)
	}
	h.AttnScale = InvSqrt(h.HeadDim)
	h.RopeBaseSWA, h.RopeScaleSWA = h.RopeBase, h.RopeScale
	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fmt.Errorf("model: missing tensor %q", "token_embd.weight")
	}
	if len(emb.Dims) != 2 {
		return nil, fmt.Errorf("model: tensor %q has shape %v, expected [%d n_vocab]", emb.Name, emb.Dims, h.Embd)
	}
	h.Vocab = int(emb.Dims[1])
	h.SWA = make([]bool, h.Layers)
	return h, nil
}

// yarn computes YaRN's parameters as llama.cpp does with its defaults
// (extrapolation mix 1, β_fast 32, β_slow 1): the correction range of
// ggml_rope_yarn_corr_dims, and the magnitude scale: llama.cpp's attention
// factor get_mscale(factor)/(1 + 0.1·ln factor), times the file's
// attn_factor, times the 1 + 0.1·ln(1/freqScale) ggml's rope applies.
// Every step is float32 as there.
func yarn(dims, origCtx int, base, freqScale, attnFactor float32) *kernels.YaRN {
	logf := func(x float32) float32 { return float32(math.Log(float64(x))) }
	corr := func(beta float32) float32 {
		return float32(dims) * logf(float32(origCtx)/(beta*2*float32(math.Pi))) / (2 * logf(base))
	}
	low := max(0, float32(math.Floor(float64(corr(32)))))
	high := min(float32(dims-1), float32(math.Ceil(float64(corr(1)))))
	factor := 1 / freqScale
	mscale := float32(1)
	if factor > 1 {
		mscale = 0.1*logf(factor) + 1
	}
	mscale *= 1 / (1 + 0.1*logf(factor))
	mscale *= attnFactor
	mscale *= 1 + 0.1*logf(1/freqScale)
	return &kernels.YaRN{Low: low, High: high, ExtFactor: 1, MScale: mscale}
}

// InvSqrt returns 1/sqrtf(n) computed in float32, as llama.cpp computes
// its attention scales.
func InvSqrt(n int) float32 { return 1 / float32(math.Sqrt(float64(n))) }

// SetSWAPattern marks the sliding-window layers by llama.cpp's period
// rule: in every group of period layers the last one uses full attention
// and the others the window; period 0 makes every layer a window layer.
func (h *Hyper) SetSWAPattern(period int) {
	for l := range h.SWA {
		h.SWA[l] = period == 0 || l%period < period-1
	}
}

// ReadSWAPattern sets the sliding-window layers from the key
// "<arch>.attention.sliding_window_pattern": a period (see SetSWAPattern)
// or an array with one entry per layer (non-zero or true: sliding
// window). Without the key it applies defPeriod. It does nothing when the
// model has no window.
func ReadSWAPattern(f *gguf.File, h *Hyper, defPeriod int) error {
	if h.Window <= 0 {
		return nil
	}
	key := h.Arch + ".attention.sliding_window_pattern"
	v, ok := f.Get(key)
	if !ok {
		h.SetSWAPattern(defPeriod)
		return nil
	}
	if p, ok := v.Int(); ok {
		if p < 0 || p > int64(h.Layers) {
			return fmt.Errorf("model: %s = %d is not a layer period", key, p)
		}
		h.SetSWAPattern(int(p))
		return nil
	}
	if v.Len() != h.Layers {
		return fmt.Errorf("model: %s has %d entries for %d layers", key, v.Len(), h.Layers)
	}
	if bs, ok := v.Any().([]bool); ok {
		copy(h.SWA, bs)
		return nil
	}
	is, ok := v.Ints()
	if !ok {
		return fmt.Errorf("model: %s: expected an integer or an array of integers or bools, found %s", key, v.Type)
	}
	for l, x := range is {
		h.SWA[l] = x != 0
	}
	return nil
}

// Describe lists the hyperparameters as name/value pairs in a fixed
// order for display (shimmer info); entries that do not apply (no sliding
// window, …) are left out.
func (h *Hyper) Describe() [][2]string {
	var ps [][2]string
	add := func(name, format string, args ...any) {
		ps = append(ps, [2]string{name, fmt.Sprintf(format, args...)})
	}
	add("architecture", "%s", h.Arch)
	add("vocabulary", "%d", h.Vocab)
	add("embedding", "%d", h.Embd)
	add("layers", "%d", h.Layers)
	if h.Experts > 0 {
		add("experts", "%d, %d per token", h.Experts, h.ExpertsUsed)
	}
	add("heads", "%d query, %d key/value", h.Heads, h.KVHeads)
	if h.ValueDim != h.HeadDim {
		add("head width", "%d key, %d value", h.HeadDim, h.ValueDim)
	} else {
		add("head width", "%d", h.HeadDim)
	}
	add("feed-forward", "%d", h.FF)
	add("context (trained)", "%d", h.CtxTrain)
	if h.LayerNorm {
		add("layer norm eps", "%g", h.NormEps)
	} else {
		add("rms norm eps", "%g", h.NormEps)
	}
	kind := "norm"
	if h.RopeNeox {
		kind = "neox"
	}
	if h.RopeDims == 0 {
		add("positions", "learned (no rope)")
	} else {
		add("rope", "%s, %d dims, base %g", kind, h.RopeDims, h.RopeBase)
	}
	if h.RopeDims != 0 && h.RopeScale != 1 {
		add("rope frequency scale", "%g", h.RopeScale)
	}
	if h.Yarn != nil {
		add("rope scaling", "yarn, ramp over dims [%g, %g], magnitude %.6g", h.Yarn.Low, h.Yarn.High, h.Yarn.MScale)
	}
	where := "scores"
	if h.ScaleQ {
		where = "queries"
	}
	add("attention scale", "%.6g (on %s)", h.AttnScale, where)
	var swa []int
	for l, on := range h.SWA {
		if on {
			swa = append(swa, l)
		}
	}
	if h.Window > 0 && len(swa) > 0 {
		add("sliding window", "%d on %d of %d layers %s", h.Window, len(swa), h.Layers, layerList(swa))
		if h.RopeBaseSWA != h.RopeBase || h.RopeScaleSWA != h.RopeScale {
			add("rope on window layers", "base %g, frequency scale %g", h.RopeBaseSWA, h.RopeScaleSWA)
		}
	}
	if len(h.Features) > 0 {
		add("features", "%s", strings.Join(h.Features, ", "))
	}
	return ps
}

// layerList writes sorted layer indices compactly: [0-4 6].
func layerList(ls []int) string {
	var parts []string
	for i := 0; i < len(ls); {
		j := i
		for j+1 < len(ls) && ls[j+1] == ls[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", ls[i], ls[j]))
		} else {
			parts = append(parts, fmt.Sprint(ls[i]))
		}
		i = j + 1
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ActiveParams counts the parameters one token reads in a model with
// sparse blocks: every tensor, but of the expert tensors (the
// ffn_*_exps weights and biases, whose last dimension is the expert
// count) only the ExpertsUsed/Experts share a token routes through, and
// of the token embedding one row unless it is also the output matrix.
func ActiveParams(f *gguf.File, h *Hyper) uint64 {
	return active(f, h, func(t *gguf.TensorInfo) uint64 { return t.Elements() })
}

// ActiveBytes is ActiveParams in bytes of the file: what decoding one
// token reads of the weights.
func ActiveBytes(f *gguf.File, h *Hyper) uint64 {
	return active(f, h, func(t *gguf.TensorInfo) uint64 { return t.Size })
}

func active(f *gguf.File, h *Hyper, size func(*gguf.TensorInfo) uint64) uint64 {
	_, untied := f.Tensor("output.weight")
	var n uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		el := size(t)
		switch {
		case h.Experts > 0 && strings.Contains(t.Name, "_exps.") && len(t.Dims) > 1 && t.Dims[len(t.Dims)-1] == uint64(h.Experts):
			el = el / uint64(h.Experts) * uint64(h.ExpertsUsed)
		case t.Name == "token_embd.weight" && untied && len(t.Dims) == 2:
			el /= t.Dims[1]
		}
		n += el
	}
	return n
}
