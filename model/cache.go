package model

import "fmt"

// KVCache holds the keys and values of every layer for a fixed number of
// sequences, allocated once. Sequence s, position p of layer l lives in cell
// p mod Cap(l) of row s: layers without a sliding window have Cap = the
// context length; sliding-window layers keep only what their window and one
// batch need, as a ring.
//
// The cache has no notion of which cells are valid: the caller (the engine)
// tracks each sequence's length, and a forward pass reads cells at
// positions below the current entry's position only.
type KVCache struct {
	Seqs int // sequence slots
	Ctx  int // positions per sequence

	kdim, vdim []int
	caps       []int
	k, v       [][]float32 // per layer: [seq][cap][kdim]
}

// NewKVCache allocates a cache for h with seqs sequences of ctx positions
// and batches of at most maxBatch entries.
func NewKVCache(h *Hyper, seqs, ctx, maxBatch int) (*KVCache, error) {
	if seqs <= 0 || ctx <= 0 {
		return nil, fmt.Errorf("model: cache of %d sequences × %d positions", seqs, ctx)
	}
	c := &KVCache{Seqs: seqs, Ctx: ctx}
	for l := 0; l < h.Layers; l++ {
		capacity := ctx
		if h.Window > 0 && h.SWA[l] {
			capacity = min(ctx, h.Window+maxBatch-1)
		}
		kd, vd := h.KDim(), h.VDim()
		c.kdim = append(c.kdim, kd)
		c.vdim = append(c.vdim, vd)
		c.caps = append(c.caps, capacity)
		c.k = append(c.k, make([]float32, seqs*capacity*kd))
		c.v = append(c.v, make([]float32, seqs*capacity*vd))
	}
	return c, nil
}

// KVCacheBytes is the memory NewKVCache(h, seqs, ctx, maxBatch) allocates,
// computed without allocating (and without overflow for any int inputs
// that fit the engine's limits).
func KVCacheBytes(h *Hyper, seqs, ctx, maxBatch int) int64 {
	var cells int64
	for l := 0; l < h.Layers; l++ {
		capacity := ctx
		if h.Window > 0 && h.SWA[l] {
			capacity = min(ctx, h.Window+maxBatch-1)
		}
		cells += int64(capacity)
	}
	return int64(seqs) * cells * int64(h.KDim()+h.VDim()) * 4
}

// Cap returns the number of cells per sequence of layer l.
func (c *KVCache) Cap(l int) int { return c.caps[l] }

// Bytes returns the memory the cache holds.
func (c *KVCache) Bytes() int64 {
	var n int64
	for l := range c.k {
		n += int64(len(c.k[l])+len(c.v[l])) * 4
	}
	return n
}

// Layer returns layer l's key and value storage ([seq][Cap(l)][dim] each)
// and the widths of a key and of a value row.
func (c *KVCache) Layer(l int) (k, v []float32, kdim, vdim int) {
	return c.k[l], c.v[l], c.kdim[l], c.vdim[l]
}

// K returns the key cell of sequence seq at position pos in layer l.
func (c *KVCache) K(l, seq, pos int) []float32 {
	cell := seq*c.caps[l] + pos%c.caps[l]
	return c.k[l][cell*c.kdim[l] : (cell+1)*c.kdim[l]]
}

// V returns the value cell of sequence seq at position pos in layer l.
func (c *KVCache) V(l, seq, pos int) []float32 {
	cell := seq*c.caps[l] + pos%c.caps[l]
	return c.v[l][cell*c.vdim[l] : (cell+1)*c.vdim[l]]
}

// CopyPrefix copies positions [0, n) of sequence src to sequence dst in every
// layer (for sharing a prompt between sequences). Ring layers copy the
// cells that hold positions [max(0, n-Cap), n).
func (c *KVCache) CopyPrefix(src, dst, n int) {
	if src == dst || n <= 0 {
		return
	}
	for l := range c.k {
		for p := max(0, n-c.caps[l]); p < n; p++ {
			copy(c.K(l, dst, p), c.K(l, src, p))
			copy(c.V(l, dst, p), c.V(l, src, p))
		}
	}
}

// NewKVCacheSize returns the bytes NewKVCache would allocate.
func NewKVCacheSize(h *Hyper, seqs, ctx, maxBatch int) (int64, error) {
	if seqs <= 0 || ctx <= 0 {
		return 0, fmt.Errorf("model: cache of %d sequences × %d positions", seqs, ctx)
	}
	var n int64
	for l := 0; l < h.Layers; l++ {
		capacity := ctx
		if h.Window > 0 && h.SWA[l] {
			capacity = min(ctx, h.Window+maxBatch-1)
		}
		n += int64(seqs) * int64(capacity) * int64(h.KDim()+h.VDim()) * 4
	}
	return n, nil
}
