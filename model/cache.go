package model

import (
	"fmt"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/quant"
)

// CacheTypes are the element types of the keys and of the values in a KV
// cache: gguf.TypeF32 (the zero value means F32), gguf.TypeF16
// (llama.cpp's default: half the memory; each key and value rounded to
// half precision as it is stored) or gguf.TypeQ8_0 (34 bytes per 32
// values: each head's key or value rounded to Q8_0 blocks as llama.cpp
// stores them; attention multiplies the dequantized values in float32,
// where llama.cpp also rounds the queries to Q8_0; needs head sizes that
// are multiples of 32, as llama.cpp does).
type CacheTypes struct {
	K, V gguf.Type
}

// ParseCacheType reads a --cache-type-k/-v value: f32, f16 or q8_0.
func ParseCacheType(s string) (gguf.Type, error) {
	switch strings.ToLower(s) {
	case "f32":
		return gguf.TypeF32, nil
	case "f16":
		return gguf.TypeF16, nil
	case "q8_0":
		return gguf.TypeQ8_0, nil
	}
	return 0, fmt.Errorf("model: KV cache type %q is not supported (f32, f16, q8_0)", s)
}

func (t CacheTypes) check(h *Hyper) error {
	for i, x := range []gguf.Type{t.K, t.V} {
		switch x {
		case gguf.TypeF32, gguf.TypeF16:
		case gguf.TypeQ8_0:
			what, dim := "key", h.HeadDim
			if i == 1 {
				what, dim = "value", h.ValueDim
			}
			if dim%32 != 0 {
				return fmt.Errorf("model: a q8_0 KV cache needs %s heads of a multiple of 32 values; this model's have %d", what, dim)
			}
		default:
			return fmt.Errorf("model: KV cache type %v is not supported (F32, F16, Q8_0)", x)
		}
	}
	return nil
}

// rowBytes is the memory of n cached values of type t (n a multiple of
// 32 for Q8_0).
func rowBytes(t gguf.Type, n int) int64 {
	switch t {
	case gguf.TypeF16:
		return 2 * int64(n)
	case gguf.TypeQ8_0:
		return int64(n) + 2*int64(n/32)
	}
	return 4 * int64(n)
}

// KVCache holds the keys and values of every layer for a fixed number of
// sequences, allocated once. Sequence s, position p of layer l lives in cell
// p mod Cap(l) of row s: layers without a sliding window have Cap = the
// context length; sliding-window layers keep only what their window and one
// batch need, as a ring. Cap is rounded up to a multiple of
// kernels.AttnBlock, so a block of 64 cells always holds 64 consecutive
// positions (64k to 64k+63).
//
// Keys are stored transposed by blocks of 64 cells: element d of the key
// in cell c is at (c/64)·kdim·64 + d·64 + c%64, so attention reads a key
// head's block as dim rows of 64 positions (kernels.AttnScores). Values are
// stored a cell after another.
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
	k, v       [][]float32 // per layer: [seq·cap/64][kdim][64] and [seq][cap][vdim], when F32
	k16, v16   [][]uint16  // the same, when F16
	k8, v8     [][]int8    // the same, when Q8_0 (values)
	ks, vs     [][]uint16  // and their f16 scales: [seq·cap/64][kdim/32][64] and [seq][cap][vdim/32]
}

// capacity is the number of cells per sequence of a layer.
func capacity(h *Hyper, l, ctx, maxBatch int) int {
	c := ctx
	if h.Window > 0 && h.SWA[l] {
		c = min(ctx, h.Window+maxBatch-1)
	}
	return (c + kernels.AttnBlock - 1) / kernels.AttnBlock * kernels.AttnBlock
}

// NewKVCache allocates a cache for h with seqs sequences of ctx positions
// and batches of at most maxBatch entries.
func NewKVCache(h *Hyper, seqs, ctx, maxBatch int, types CacheTypes) (*KVCache, error) {
	if seqs <= 0 || ctx <= 0 {
		return nil, fmt.Errorf("model: cache of %d sequences × %d positions", seqs, ctx)
	}
	types = types.norm()
	if err := types.check(h); err != nil {
		return nil, err
	}
	c := &KVCache{Seqs: seqs, Ctx: ctx, Types: types}
	for l := 0; l < h.Layers; l++ {
		capacity := capacity(h, l, ctx, maxBatch)
		kd, vd := h.KDim(), h.VDim()
		c.kdim = append(c.kdim, kd)
		c.vdim = append(c.vdim, vd)
		c.caps = append(c.caps, capacity)
		switch types.K {
		case gguf.TypeF16:
			c.k16 = append(c.k16, make([]uint16, seqs*capacity*kd))
		case gguf.TypeQ8_0:
			c.k8 = append(c.k8, make([]int8, seqs*capacity*kd))
			c.ks = append(c.ks, make([]uint16, seqs*capacity*kd/32))
		default:
			c.k = append(c.k, make([]float32, seqs*capacity*kd))
		}
		switch types.V {
		case gguf.TypeF16:
			c.v16 = append(c.v16, make([]uint16, seqs*capacity*vd))
		case gguf.TypeQ8_0:
			c.v8 = append(c.v8, make([]int8, seqs*capacity*vd))
			c.vs = append(c.vs, make([]uint16, seqs*capacity*vd/32))
		default:
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
		cells += int64(capacity(h, l, ctx, maxBatch))
	}
	return int64(seqs) * cells * (rowBytes(types.K, h.KDim()) + rowBytes(types.V, h.VDim()))
}

// Cap returns the number of cells per sequence of layer l.
func (c *KVCache) Cap(l int) int { return c.caps[l] }

// Bytes returns the memory the cache holds.
func (c *KVCache) Bytes() int64 {
	var n int64
	for l := range c.caps {
		n += int64(c.Seqs*c.caps[l]) * (rowBytes(c.Types.K, c.kdim[l]) + rowBytes(c.Types.V, c.vdim[l]))
	}
	return n
}

// keyAt is the index of element 0 of the key in cell (seq·Cap + cell) of
// a layer with keys kd wide; element d is at keyAt + d·64.
func keyAt(cell, kd int) int {
	const b = kernels.AttnBlock
	return cell/b*kd*b + cell%b
}

// Store writes the key k and value v of sequence seq at position pos in
// layer l (rounded to the cache's types).
func (c *KVCache) Store(l, seq, pos int, k, v []float32) {
	cell := seq*c.caps[l] + pos%c.caps[l]
	kd, vd := c.kdim[l], c.vdim[l]
	at := keyAt(cell, kd)
	if c.k8 != nil {
		// Block b of 32 values: its values at rows 32b.. of the key block,
		// its scale at row b of the scales (keyAt with kd/32 rows).
		dst, sd := c.k8[l][at:], c.ks[l][keyAt(cell, kd/32):]
		var q [32]int8
		var sc [1]uint16
		for b := 0; b < kd/32; b++ {
			kernels.QuantizeQ8(q[:], sc[:], k[32*b:32*b+32])
			for i, x := range q {
				dst[(32*b+i)*kernels.AttnBlock] = x
			}
			sd[b*kernels.AttnBlock] = sc[0]
		}
	} else if c.k16 != nil {
		dst := c.k16[l][at:]
		for d, x := range k[:kd] {
			dst[d*kernels.AttnBlock] = quant.FP32ToFP16(x)
		}
	} else {
		dst := c.k[l][at:]
		for d, x := range k[:kd] {
			dst[d*kernels.AttnBlock] = x
		}
	}
	switch {
	case c.v8 != nil:
		kernels.QuantizeQ8(c.v8[l][cell*vd:(cell+1)*vd], c.vs[l][cell*vd/32:(cell+1)*vd/32], v[:vd])
	case c.v16 != nil:
		quant.FP32ToFP16Row(c.v16[l][cell*vd:(cell+1)*vd], v[:vd])
	default:
		copy(c.v[l][cell*vd:(cell+1)*vd], v[:vd])
	}
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
			ks, kt := keyAt(s, kd), keyAt(d, kd)
			for e := 0; e < kd*kernels.AttnBlock; e += kernels.AttnBlock {
				switch {
				case c.k8 != nil:
					c.k8[l][kt+e] = c.k8[l][ks+e]
				case c.k16 != nil:
					c.k16[l][kt+e] = c.k16[l][ks+e]
				default:
					c.k[l][kt+e] = c.k[l][ks+e]
				}
			}
			if c.k8 != nil {
				ss, st := keyAt(s, kd/32), keyAt(d, kd/32)
				for e := 0; e < kd/32*kernels.AttnBlock; e += kernels.AttnBlock {
					c.ks[l][st+e] = c.ks[l][ss+e]
				}
			}
			switch {
			case c.v8 != nil:
				copy(c.v8[l][d*vd:(d+1)*vd], c.v8[l][s*vd:(s+1)*vd])
				copy(c.vs[l][d*vd/32:(d+1)*vd/32], c.vs[l][s*vd/32:(s+1)*vd/32])
			case c.v16 != nil:
				copy(c.v16[l][d*vd:(d+1)*vd], c.v16[l][s*vd:(s+1)*vd])
			default:
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
