package model

import (
	"fmt"
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Hyper holds the hyperparameters every decoder-only transformer has.
// Architectures read them with ReadHyper and adjust what differs.
type Hyper struct {
	Arch      string
	Vocab     int // rows of the token embedding
	Embd      int // n_embd
	Layers    int
	Heads     int // query heads
	KVHeads   int // key/value heads
	HeadDim   int // key (and query) width per head
	ValueDim  int // value width per head
	FF        int // feed-forward width
	CtxTrain  int // context length the model was trained with
	NormEps   float32
	RopeBase  float32
	RopeScale float32 // frequency scale (1/linear factor)
	RopeDims  int     // rotated dimensions per head
	RopeNeox  bool    // rotate (i, i+n/2) pairs instead of (2i, 2i+1)
	AttnScale float32 // multiplies q·k; 1/sqrt(HeadDim) by default
	Window    int     // sliding-window size of SWA layers (0: none)
	SWA       []bool  // per layer: uses the sliding window
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
	if m.err == nil && (h.Heads == 0 || h.Embd == 0 || h.Layers == 0) {
		return nil, fmt.Errorf("model: %s.embedding_length, block_count and attention.head_count must be positive", arch)
	}
	if m.err != nil {
		return nil, m.err
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
	} else if t != "none" {
		return nil, fmt.Errorf("model: rope scaling type %q is not supported", t)
	}
	h.Window = m.Int("attention.sliding_window", 0, false)
	if m.err != nil {
		return nil, m.err
	}
	switch {
	case h.KVHeads == 0 || h.Heads%h.KVHeads != 0:
		return nil, fmt.Errorf("model: %d query heads cannot share %d key/value heads", h.Heads, h.KVHeads)
	case h.HeadDim == 0 || h.ValueDim == 0 || h.FF == 0:
		return nil, fmt.Errorf("model: zero head or feed-forward width")
	case h.RopeDims > h.HeadDim || h.RopeDims%2 != 0:
		return nil, fmt.Errorf("model: %s.rope.dimension_count %d does not fit head width %d", arch, h.RopeDims, h.HeadDim)
	}
	h.AttnScale = float32(1 / math.Sqrt(float64(h.HeadDim)))
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

// Describe lists the hyperparameters as name/value pairs for display.
func (h *Hyper) Describe() [][2]string {
	d := func(v any) string { return fmt.Sprint(v) }
	out := [][2]string{
		{"architecture", h.Arch},
		{"vocabulary", d(h.Vocab)},
		{"embedding", d(h.Embd)},
		{"layers", d(h.Layers)},
		{"heads (query/kv)", fmt.Sprintf("%d/%d", h.Heads, h.KVHeads)},
		{"head size (key/value)", fmt.Sprintf("%d/%d", h.HeadDim, h.ValueDim)},
		{"feed-forward", d(h.FF)},
		{"training context", d(h.CtxTrain)},
		{"rms norm epsilon", d(h.NormEps)},
		{"rope", fmt.Sprintf("base %g, %d dims, %s, freq scale %g", h.RopeBase, h.RopeDims, map[bool]string{false: "normal", true: "neox"}[h.RopeNeox], h.RopeScale)},
	}
	if h.Window > 0 {
		n := 0
		for _, s := range h.SWA {
			if s {
				n++
			}
		}
		out = append(out, [2]string{"sliding window", fmt.Sprintf("%d tokens on %d of %d layers", h.Window, n, h.Layers)})
	}
	return out
}
