package compute

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// A tiled kernel multiplies a tile of up to 4 weight rows by up to 4
// activation rows (tokens) over whole rows, in SIMD registers. Kernels
// exist per weight type and CPU feature set (gemm_amd64.go); the generic
// path (quant.Traits.VecDot per row and token) is used where none fits and
// in builds tagged purego.
//
// Activations for the int8 kernels are laid out per matrix product as
// three arrays: n rows of cols int8 values, then n rows of nb float32
// block scales, then n rows of nb int32 block corrections, nb = cols/32.
// Values and scales are exactly those of quant's Q8_0 activations (d =
// max|x|/127 rounded to F16, q = round(x/d)); the correction is
// -offset·Σq, offset being what the kernel adds to the weight values to
// make them unsigned for VPDPBUSD (8 for Q4_0, 128 for Q8_0).
// Activations for the BF16 pair kernels are BF16 rows (2 bytes per column,
// quant's rounding).
// Activations for the float kernels are float32 rows: F16 kernels get the
// values rounded to F16, BF16 kernels rounded to BF16 (as quant's F16 and
// BF16 activations).
type tileKernel struct {
	tiles      *[2][4]func(*gemmArgs) // float kernels: [R==4][T-1]
	tiles8     *[8]func(*gemmArgs)    // int8 kernels: a packed group of rows × [T-1] tokens
	rows       int                    // int8 kernels: rows per packed group (16 or 8)
	int8       bool                   // a kernel of packed row groups (int8 values, or BF16 pairs if bf16)
	bf16       bool                   // BF16 pair kernel: BF16 activations, VDPBF16PS (see _asm)
	offset     int32                  // int8 kernels: the weight offset
	blockBytes int                    // int8 kernels: bytes per weight block
	step       int                    // elements per kernel step (cols must be a multiple)
	roundF16   bool                   // float kernels: round activations to F16
	roundBF16  bool                   // float kernels: round activations to BF16
	kquant     int                    // K-quant kernels: 4 (Q4_K, Q5_K) or 6 (Q6_K); Q8_K activations
	maxT       int                    // most tokens per tile (float kernels: 0 means 4)
	fileLayout bool                   // float kernels: the weights are read as the file lays them out (F32), not repacked
	// dual multiplies two packed groups (int8: of rows rows, float: 4
	// rows) with one token, reading each as its own stream, or is nil.
	dual func(*gemmArgs)
	// quad does the same for four groups, or is nil.
	quad func(*gemmArgs)
	// dual8 multiplies two packed groups with 8 tokens (int8), or is nil.
	dual8 func(*gemmArgs)
	// tri8 multiplies three packed groups with 8 tokens, or is nil; where
	// it exists, prefill takes pieces of three groups.
	tri8 func(*gemmArgs)
}

// streams runs the multi-stream one-token tiles (four groups, then two)
// over the whole groups of R rows in [r, end), group i of a tile's n
// taken from the i-th n-th of the range, so each reads its own stream
// (groups of gb bytes in packed). It returns the first row left for the
// single tiles.
func (k *tileKernel) streams(g *gemmArgs, packed []byte, gb, R int, out []float32, r, end int) int {
	return runStreams(g, [2]streamTile{{4, k.quad}, {2, k.dual}}, packed, gb, R, out, r, end)
}

// streamTile is a multi-stream tile of n groups.
type streamTile struct {
	n int
	f func(*gemmArgs)
}

// runStreams is streams with the tiles ts (nil ones skipped), in order.
func runStreams(g *gemmArgs, ts [2]streamTile, packed []byte, gb, R int, out []float32, r, end int) int {
	for _, m := range ts {
		if m.f == nil {
			continue
		}
		per := (end - r) / R / m.n
		if per == 0 {
			continue
		}
		for i := 0; i < per; i++ {
			a := r + i*R
			g.w, g.out = unsafe.Pointer(&packed[a/R*gb]), unsafe.Pointer(&out[a])
			for s := 1; s < m.n; s++ {
				b := a + s*per*R
				g.more[s-1].w, g.more[s-1].out = unsafe.Pointer(&packed[b/R*gb]), unsafe.Pointer(&out[b])
			}
			m.f(g)
		}
		r += m.n * per * R
	}
	return r
}

// gemmArgs is the argument block of a tile kernel; its layout is known to
// the generated assembly (_asm).
type gemmArgs struct {
	w       unsafe.Pointer // first weight row of the tile
	wstride uintptr        // bytes between weight rows
	x       unsafe.Pointer // first token's activation values
	xstride uintptr        // bytes between tokens' values
	xd      unsafe.Pointer // int8: first token's block scales
	xc      unsafe.Pointer // int8: first token's block corrections
	dstride uintptr        // int8: bytes between tokens' scales (and corrections)
	n       uintptr        // steps: blocks (int8) or 16-element groups (float)
	out     unsafe.Pointer // out[token 0][row 0]
	ldo     uintptr        // bytes between tokens' output rows
	cstride uintptr        // K-quants: bytes between tokens' per-16 values
	// Multi-stream tiles: the weights and out[0][row 0] of their second,
	// third and fourth groups.
	more [3]struct{ w, out unsafe.Pointer }
}

// kernelFor returns the tiled kernel for weight type t and a matrix of
// rows × cols, or nil. The int8 kernels take weights repacked in groups of
// 16 (Q4_0, Q8_0) or 8 rows (K-quants) (pack.go); a last, partial group is
// padded with zero rows.
func kernelFor(t gguf.Type, rows, cols int) *tileKernel {
	k := tileKernels[t]
	if k == nil || cols%k.step != 0 {
		return nil
	}
	return k
}

// tileKernels is filled at start-up by the architecture's file (gemm_amd64.go)
// from the CPU's features.
var tileKernels = map[gguf.Type]*tileKernel{}

// actBytes is the scratch an activation of n rows of cols needs.
func (k *tileKernel) actBytes(n, cols int) int {
	if k.kquant != 0 {
		return n * (cols + cols/256*4 + cols/16*4)
	}
	if k.bf16 {
		return n * cols * 2
	}
	if k.int8 {
		return n * (cols + cols/32*8)
	}
	return n * cols * 4
}

// act is an activation prepared for a tile kernel inside a byte buffer.
type act struct {
	q       []int8    // int8: values, n×cols
	d       []float32 // int8: scales, n×nb
	c       []int32   // int8: corrections, n×nb
	f       []float32 // float: values, n×cols
	h       []uint16  // BF16 pairs: values, n×cols
	cols    int
	xstride uintptr
	dstride uintptr
	cstride uintptr
}

func (k *tileKernel) layout(buf []byte, n, cols int) act {
	a := act{cols: cols}
	if k.kquant != 0 {
		ns, ng := cols/256, cols/16
		a.q = unsafe.Slice((*int8)(unsafe.Pointer(&buf[0])), n*cols)
		a.d = unsafe.Slice((*float32)(unsafe.Pointer(&buf[n*cols])), n*ns)
		a.c = unsafe.Slice((*int32)(unsafe.Pointer(&buf[n*cols+4*n*ns])), n*ng)
		a.xstride, a.dstride, a.cstride = uintptr(cols), uintptr(4*ns), uintptr(4*ng)
		return a
	}
	if k.bf16 {
		a.h = unsafe.Slice((*uint16)(unsafe.Pointer(&buf[0])), n*cols)
		a.xstride = uintptr(2 * cols)
		return a
	}
	if k.int8 {
		nb := cols / 32
		a.q = unsafe.Slice((*int8)(unsafe.Pointer(&buf[0])), n*cols)
		a.d = unsafe.Slice((*float32)(unsafe.Pointer(&buf[n*cols])), n*nb)
		a.c = unsafe.Slice((*int32)(unsafe.Pointer(&buf[n*cols+4*n*nb])), n*nb)
		a.xstride, a.dstride = uintptr(cols), uintptr(4*nb)
		return a
	}
	a.f = unsafe.Slice((*float32)(unsafe.Pointer(&buf[0])), n*cols)
	a.xstride = uintptr(4 * cols)
	return a
}

// prepare converts activation row t of x into a.
func (k *tileKernel) prepare(a *act, t int, x []float32) {
	cols := a.cols
	if k.bf16 {
		quant.FP32ToBF16Row(a.h[t*cols:(t+1)*cols], x)
		return
	}
	if !k.int8 {
		dst := a.f[t*cols : (t+1)*cols]
		switch {
		case k.roundF16:
			roundF16Row(dst, x)
		case k.roundBF16:
			for i, v := range x {
				dst[i] = quant.BF16ToFP32(quant.FP32ToBF16(v))
			}
		default:
			copy(dst, x)
		}
		return
	}
	if k.kquant != 0 {
		ns, ng := cols/256, cols/16
		quantizeRowQ8K(a.q[t*cols:(t+1)*cols], a.d[t*ns:(t+1)*ns], a.c[t*ng:(t+1)*ng], x, k.kquant)
		return
	}
	nb := cols / 32
	quantizeRowQ8(a.q[t*cols:(t+1)*cols], a.d[t*nb:(t+1)*nb], a.c[t*nb:(t+1)*nb], x, k.offset)
}

// quantizeRowQ8K is quant's Q8_K activation quantization (per superblock
// of 256: m the value of largest magnitude, iscale = -127/m, q =
// clamp(nearest-even(iscale·x)), d = 1/iscale) writing the K kernels'
// layout: for Q6_K (kind 6) c[g] = -32·Σq over each 16 columns; for Q4_K
// (kind 4) c[2j] = Σq over each 32 columns j, c[2j+1] = 0.
func quantizeRowQ8K(q []int8, d []float32, c []int32, x []float32, kind int) {
	for b := range d {
		xb := x[256*b : 256*b+256]
		qb := q[256*b : 256*b+256]
		cb := c[16*b : 16*b+16]
		var m, amax float32
		for _, v := range xb {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, m = a, v
			}
		}
		if amax == 0 {
			clear(qb)
			clear(cb)
			d[b] = 0
			continue
		}
		iscale := -127 / m
		for j, v := range xb {
			r := math.RoundToEven(float64(iscale * v))
			qb[j] = int8(min(127, max(-128, r)))
		}
		for g := 0; g < 16; g++ {
			var s int32
			for _, v := range qb[16*g : 16*g+16] {
				s += int32(v)
			}
			cb[g] = s
		}
		if kind == 6 {
			for g := range cb {
				cb[g] *= -32
			}
		} else {
			for j := 0; j < 8; j++ {
				cb[2*j], cb[2*j+1] = cb[2*j]+cb[2*j+1], 0
			}
		}
		d[b] = 1 / iscale
	}
}

// quantizeRowQ8Generic is quant's Q8_0 activation quantization (the
// reference formula) writing the tile kernels' layout, plus the block
// corrections -offset·Σq.
func quantizeRowQ8Generic(q []int8, d []float32, c []int32, x []float32, offset int32) {
	for b := range d {
		xb := x[32*b : 32*b+32]
		var amax float32
		for _, v := range xb {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		dd := amax / 127
		var id float32
		if dd != 0 {
			id = 1 / dd
		}
		d[b] = quant.FP16ToFP32(quant.FP32ToFP16(dd))
		var sum int32
		qb := q[32*b : 32*b+32]
		for j, v := range xb {
			r := int8(math.Round(float64(v * id)))
			qb[j] = r
			sum += int32(r)
		}
		c[b] = -offset * sum
	}
}

func roundF16RowGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = quant.FP16ToFP32(quant.FP32ToFP16(v))
	}
}

// f16 reads a little-endian half at b.
func f16(b []byte) float32 { return quant.FP16ToFP32(binary.LittleEndian.Uint16(b)) }
