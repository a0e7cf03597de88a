package model

import (
	"fmt"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// CacheTypes are the element types of the keys and of the values in a KV
// cache: gguf.TypeF32 (the zero value means F32) or gguf.TypeF16
// (llama.cpp's default: half the memory; each key and value rounded to
// half precision as it is stored).
type CacheTypes struct {
	K, V gguf.Type
}

// ParseCacheType reads a --cache-type-k/-v value: f32 or f16.
func ParseCacheType(s string) (gguf.Type, error) {
	switch strings.ToLower(s) {
	case "f32":
		return gguf.TypeF32, nil
	case "f16":
		return gguf.TypeF16, nil
	}
	return 0, fmt.Errorf("model: KV cache type %q is not supported (f32, f16)", s)
}

func (t CacheTypes) check() error {
	for _, x := range []gguf.Type{t.K, t.V} {
		if x != gguf.TypeF32 && x != gguf.TypeF16 {
			return fmt.Errorf("model: KV cache type %v is not supported (F32, F16)", x)
		}
	}
	return nil
}

func elemBytes(t gguf.Type) int64 {
	if t == gguf.TypeF16 {
		return 2
	}
	return 4
}

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

	Types CacheTypes

	kdim, vdim []int
	caps       []int
	k, v       [][]float32 // per layer: [seq][cap][kdim], when F32
	k16, v16   [][]uint16  // the same, when F16
}

// NewKVCache allocates a cache for h with seqs sequences of ctx positions
// and batches of at most maxBatch entries.
func NewKVCache(h *Hyper, seqs, ctx, maxBatch int, types CacheTypes) (*KVCache, error) {
	if seqs <= 0 || ctx <= 0 {
		return nil, fmt.Errorf("model: cache of %d sequences × %d positions", seqs, ctx)
	}
	types = types.norm()
	if err := types.check(); err != nil {
		return nil, err
	}
	c := &KVCache{Seqs: seqs, Ctx: ctx, Types: types}
	for l := 0; l < h.Layers; l++ {
		capacity := ctx
		if h.Window > 0 && h.SWA[l] {
			capacity = min(ctx, h.Window+maxBatch-1)
		}
		kd, vd := h.KDim(), h.VDim()
		c.kdim = append(c.kdim, kd)
		c.vdim = append(c.vdim, vd)
		c.caps = append(c.caps, capacity)
		if types.K == gguf.TypeF16 {
			c.k16 = append(c.k16, make([]uint16, seqs*capacity*kd))
		} else {
			c.k = append(c.k, make([]float32, seqs*capacity*kd))
		}
		if types.V == gguf.TypeF16 {
			c.v16 = append(c.v16, make([]uint16, seqs*capacity*vd))
		} else {
			c.v = append(c.v, make([]float32, seqs*capacity*vd))
		}
	}
	return c, nil
}

// norm maps the zero type to F32.
func (t CacheTypes) norm() CacheTypes {
	if t.K == 0 {
		t.K = gguf.TypeF32
	}
	if t.V == 0 {
		t.V = gguf.TypeF32
	}
	return t
}

// KVCacheBytes is the memory NewKVCache(h, seqs, ctx, maxBatch) allocates,
// computed without allocating (and without overflow for any int inputs
// that fit the engine's limits).
func KVCacheBytes(h *Hyper, seqs, ctx, maxBatch int, types CacheTypes) int64 {
	types = types.norm()
	var cells int64
	for l := 0; l < h.Layers; l++ {
		capacity := ctx
		if h.Window > 0 && h.SWA[l] {
			capacity = min(ctx, h.Window+maxBatch-1)
		}
		cells += int64(capacity)
	}
	return int64(seqs) * cells * (int64(h.KDim())*elemBytes(types.K) + int64(h.VDim())*elemBytes(types.V))
}

// Cap returns the number of cells per sequence of layer l.
func (c *KVCache) Cap(l int) int { return c.caps[l] }

// Bytes returns the memory the cache holds.
func (c *KVCache) Bytes() int64 {
	var n int64
	for l := range c.caps {
		n += int64(c.Seqs*c.caps[l]) * (int64(c.kdim[l])*elemBytes(c.Types.K) + int64(c.vdim[l])*elemBytes(c.Types.V))
	}
	return n
}

// Store writes the key k and value v of sequence seq at position pos in
// layer l (rounded to the cache's types).
func (c *KVCache) Store(l, seq, pos int, k, v []float32) {
	cell := seq*c.caps[l] + pos%c.caps[l]
	kd, vd := c.kdim[l], c.vdim[l]
	if c.k16 != nil {
		quant.FP32ToFP16Row(c.k16[l][cell*kd:(cell+1)*kd], k[:kd])
	} else {
		copy(c.k[l][cell*kd:(cell+1)*kd], k[:kd])
	}
	if c.v16 != nil {
		quant.FP32ToFP16Row(c.v16[l][cell*vd:(cell+1)*vd], v[:vd])
	} else {
		copy(c.v[l][cell*vd:(cell+1)*vd], v[:vd])
	}
}

// Keys returns, as float32, columns [off, off+width) of the n key rows of
// layer l from row index row (= seq·Cap(l) + cell) on, and the stride
// between them: the cache itself when it holds F32, else the rows
// converted into buf (len ≥ n·width).
func (c *KVCache) Keys(l, row, n, off, width int, buf []float32) ([]float32, int) {
	return rowsOf(c.k, c.k16, l, c.kdim[l], row, n, off, width, buf)
}

// Values is Keys for the values.
func (c *KVCache) Values(l, row, n, off, width int, buf []float32) ([]float32, int) {
	return rowsOf(c.v, c.v16, l, c.vdim[l], row, n, off, width, buf)
}

func rowsOf(f32 [][]float32, f16 [][]uint16, l, dim, row, n, off, width int, buf []float32) ([]float32, int) {
	if f16 == nil {
		return f32[l][row*dim+off:], dim
	}
	src := f16[l]
	for r := 0; r < n; r++ {
		at := (row+r)*dim + off
		quant.FP16ToFP32Row(buf[r*width:(r+1)*width], src[at:at+width])
	}
	return buf, width
}

// CopyPrefix copies positions [0, n) of sequence src to sequence dst in every
// layer (for sharing a prompt between sequences). Ring layers copy the
// cells that hold positions [max(0, n-Cap), n).
func (c *KVCache) CopyPrefix(src, dst, n int) {
	if src == dst || n <= 0 {
		return
	}
	for l := range c.caps {
		capacity, kd, vd := c.caps[l], c.kdim[l], c.vdim[l]
		for p := max(0, n-capacity); p < n; p++ {
			s, d := src*capacity+p%capacity, dst*capacity+p%capacity
			if c.k16 != nil {
				copy(c.k16[l][d*kd:(d+1)*kd], c.k16[l][s*kd:(s+1)*kd])
			} else {
				copy(c.k[l][d*kd:(d+1)*kd], c.k[l][s*kd:(s+1)*kd])
			}
			if c.v16 != nil {
				copy(c.v16[l][d*vd:(d+1)*vd], c.v16[l][s*vd:(s+1)*vd])
			} else {
				copy(c.v[l][d*vd:(d+1)*vd], c.v[l][s*vd:(s+1)*vd])
			}
		}
	}
}

// NewKVCacheSize returns the bytes NewKVCache would allocate.
func NewKVCacheSize(h *Hyper, seqs, ctx, maxBatch int, types CacheTypes) (int64, error) {
	if seqs <= 0 || ctx <= 0 {
		return 0, fmt.Errorf("model: cache of %d sequences × %d positions", seqs, ctx)
	}
	return KVCacheBytes(h, seqs, ctx, maxBatch, types), nil
}
