package compute

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/quant"
)

// Matrix is a 2-D weight tensor: Rows rows of Cols elements of Type, stored
// row after row in Data (a slice of the mapped file).
type Matrix struct {
	Name       string
	Type       gguf.Type
	Rows, Cols int
	Data       []byte
	// Mapped says Data is a read-only file mapping: once the rows have
	// been repacked for a SIMD kernel its pages are released (they come
	// back from the page cache if an embedding lookup reads them).
	Mapped bool

	rowBytes int
	tr       *quant.Traits // the weight type
	xtr      *quant.Traits // the activation type of its dot products
	f32      []float32     // Data viewed as float32 when Type is F32
	k        *tileKernel   // the SIMD tile kernel, nil: the generic path
	packMu   sync.Mutex
	isPacked atomic.Bool
	packed   []byte // int8 tile kernels: the rows repacked by 8 (pack.go)
	asBF16   bool   // an F16 matrix multiplied as BF16 (MultiplyAsBF16)
}

// NewMatrix checks that data holds rows × cols elements of type t.
func NewMatrix(name string, t gguf.Type, cols, rows int, data []byte) (*Matrix, error) {
	tr, err := quant.Lookup(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if cols <= 0 || rows <= 0 || cols%tr.BlockSize != 0 {
		return nil, fmt.Errorf("tensor %q: shape [%d %d] does not fit %s blocks of %d", name, cols, rows, t, tr.BlockSize)
	}
	rb := tr.RowBytes(cols)
	if len(data) != rb*rows {
		return nil, fmt.Errorf("tensor %q: %d bytes for [%d %d] %s, expected %d", name, len(data), cols, rows, t, rb*rows)
	}
	xtr, err := quant.Lookup(tr.VecDotType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	m := &Matrix{Name: name, Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb, tr: tr, xtr: xtr, k: kernelFor(t, rows, cols)}
	if t == gguf.TypeF32 {
		m.f32 = bytesToF32(data)
	}
	return m, nil
}

// MultiplyAsBF16 makes an F16 matrix multiply as BF16, on the CPU's BF16
// dot products (VDPBF16PS): twice the multiply-adds per instruction of the
// float32 FMAs that exact F16 products need where the CPU has no F16
// arithmetic. The numerics change, so it is opt-in: each weight is rounded
// to BF16 (F16 → float32, exact, then to nearest even) when the rows are
// repacked, and the activations are rounded to BF16 as for a BF16 matrix;
// the products are exact in float32 and summed in float32, in the same
// order for every batch size. 3 of F16's 11 significand bits are lost,
// about 2⁻⁹ relative per weight. Embedding lookups (RowFloat32) keep the
// F16 values. It reports whether it applies: an F16 matrix not yet
// multiplied, on a CPU with the BF16 dot-product kernel, rows of whole
// kernel steps.
func (m *Matrix) MultiplyAsBF16() bool {
	if !BF16DotProducts() {
		return false
	}
	k := tileKernels[gguf.TypeBF16]
	if m.Type != gguf.TypeF16 || m.Cols%k.step != 0 || m.isPacked.Load() {
		return false
	}
	m.k, m.asBF16 = k, true
	return true
}

// BF16DotProducts reports whether BF16 matrices multiply with the CPU's
// BF16 dot products here (and so whether MultiplyAsBF16 can apply).
func BF16DotProducts() bool {
	k := tileKernels[gguf.TypeBF16]
	return k != nil && k.bf16
}

// bytesToF32 views little-endian float32 data in place (no copy).
func bytesToF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// Row returns the encoded bytes of row i.
func (m *Matrix) Row(i int) []byte { return m.Data[i*m.rowBytes : (i+1)*m.rowBytes] }

// RowFloat32 decodes row i into dst (len Cols) exactly, as an embedding
// lookup does.
func (m *Matrix) RowFloat32(i int, dst []float32) {
	if m.f32 != nil {
		copy(dst, m.f32[i*m.Cols:(i+1)*m.Cols])
		return
	}
	m.tr.Dequantize(dst[:m.Cols], m.Row(i))
}

// ActivationBytes is the scratch space MatMul needs for n activation rows.
func (m *Matrix) ActivationBytes(n int) int {
	if m.k != nil {
		return m.k.actBytes(n, m.Cols)
	}
	if m.f32 != nil {
		return 0
	}
	return n * m.xtr.RowBytes(m.Cols)
}

// MatMul computes out[t·Rows + r] = W[r]·x[t] for n activation rows x (each
// Cols wide, packed). Activations are first converted to the weight type's
// dot-product type in qbuf (ActivationBytes(n) bytes). Every output depends
// only on its own weight row and activation row, never on n.
func (p *Pool) MatMul(w *Matrix, x []float32, n int, out []float32, qbuf []byte) {
	p.MatMulStrided(w, x, n, out, w.Rows, qbuf)
}

// MatMulStrided is MatMul writing row t of the result at out[t·ldo:].
func (p *Pool) MatMulStrided(w *Matrix, x []float32, n int, out []float32, ldo int, qbuf []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.k != nil {
		p.tileMatMul(w, x, n, out, ldo, qbuf)
		return
	}
	xrb := 0
	var xb []byte
	if w.f32 == nil {
		xrb = w.xtr.RowBytes(w.Cols)
		xb = qbuf[:n*xrb]
		p.qj = quantJob{tr: w.xtr, x: x, cols: w.Cols, dst: xb, rowBytes: xrb}
		p.runSized(&p.qj, n, 1, n*w.Cols)
	}
	p.mm = matmulJob{w: w, x: x, xb: xb, xrb: xrb, n: n, out: out, ldo: ldo}
	chunk := max(1, min(64, w.Rows/(8*p.threads)))
	p.runSized(&p.mm, w.Rows, chunk, w.Rows*w.Cols*n)
	p.mm = matmulJob{}
	p.qj = quantJob{}
}

type quantJob struct {
	tr       *quant.Traits
	x        []float32
	cols     int
	dst      []byte
	rowBytes int
}

func (j *quantJob) Run(_, lo, hi int) {
	for t := lo; t < hi; t++ {
		j.tr.QuantizeActivation(j.dst[t*j.rowBytes:(t+1)*j.rowBytes], j.x[t*j.cols:(t+1)*j.cols])
	}
}

type matmulJob struct {
	w   *Matrix
	x   []float32
	xb  []byte
	xrb int
	n   int
	out []float32
	ldo int
}

func (j *matmulJob) Run(_, lo, hi int) {
	w := j.w
	cols := w.Cols
	if w.f32 != nil {
		for t := 0; t < j.n; t++ {
			xr := j.x[t*cols : (t+1)*cols]
			o := j.out[t*j.ldo:]
			for r := lo; r < hi; r++ {
				o[r] = dotF32(w.f32[r*cols:(r+1)*cols], xr)
			}
		}
		return
	}
	dot := w.tr.VecDot
	for t := 0; t < j.n; t++ {
		xr := j.xb[t*j.xrb : (t+1)*j.xrb]
		o := j.out[t*j.ldo:]
		for r := lo; r < hi; r++ {
			o[r] = dot(cols, w.Data[r*w.rowBytes:(r+1)*w.rowBytes], xr)
		}
	}
}

// tileMatMul is MatMulStrided with w's tile kernel: the activations are
// converted once (in parallel over tokens), then tiles of 4 rows × 4
// tokens run in parallel over row ranges.
func (p *Pool) tileMatMul(w *Matrix, x []float32, n int, out []float32, ldo int, qbuf []byte) {
	p.tileMatMuls([3]*Matrix{w}, x, n, [3][]float32{out}, [3]int{ldo}, qbuf)
}

// MatMul3 computes up to three products of the same activations (nil
// matrices are skipped), such as a layer's query, key and value
// projections: out[i][t·Rows_i + r] = ws[i][r]·x[t]. With tile kernels the
// activations are converted once and all rows run as one parallel job;
// the results are those of separate MatMul calls.
func (p *Pool) MatMul3(ws [3]*Matrix, x []float32, n int, outs [3][]float32, qbuf []byte) {
	fused := ws[0] != nil && ws[0].k != nil
	for _, w := range ws[1:] {
		if w != nil && (w.k != ws[0].k || w.Cols != ws[0].Cols) {
			fused = false
		}
	}
	if !fused {
		for i, w := range ws {
			if w != nil {
				p.MatMul(w, x, n, outs[i], qbuf)
			}
		}
		return
	}
	var ldo [3]int
	for i, w := range ws {
		if w != nil {
			ldo[i] = w.Rows
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tileMatMuls(ws, x, n, outs, ldo, qbuf)
}

// Side is work that rides along a multiplication's pass over the threads
// (MatMul3Side): items of phase A, then, once all of them are done, items
// of phase B, so that small products of the same activations cost no
// pass of their own.
type Side interface {
	SideA(worker, i int)
	SideB(worker, i int)
}

// MatMul3Side is MatMul3 that also runs na items of side's phase A and
// then nb of its phase B: with tile kernels in the same parallel pass
// (the A items first, then the matrices' pieces, then the B items, each
// B item starting once every A item is done), otherwise after the
// products on the calling thread.
func (p *Pool) MatMul3Side(ws [3]*Matrix, x []float32, n int, outs [3][]float32, qbuf []byte, side Side, na, nb int) {
	fused := ws[0] != nil && ws[0].k != nil
	for _, w := range ws[1:] {
		if w != nil && (w.k != ws[0].k || w.Cols != ws[0].Cols) {
			fused = false
		}
	}
	if !fused {
		p.MatMul3(ws, x, n, outs, qbuf)
		for i := 0; i < na; i++ {
			side.SideA(0, i)
		}
		for i := 0; i < nb; i++ {
			side.SideB(0, i)
		}
		return
	}
	var ldo [3]int
	for i, w := range ws {
		if w != nil {
			ldo[i] = w.Rows
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tj.side, p.tj.na, p.tj.nb = side, na, nb
	p.tileMatMuls(ws, x, n, outs, ldo, qbuf)
}

// tileMatMuls runs the products of ws (same tile kernel and row length)
// with the activations converted once, in parallel over tokens, then
// tiles of rows × tokens in parallel over pieces of row ranges.
func (p *Pool) tileMatMuls(ws [3]*Matrix, x []float32, n int, outs [3][]float32, ldo [3]int, qbuf []byte) {
	w0 := ws[0]
	k := w0.k
	side, na, nb := p.tj.side, p.tj.na, p.tj.nb
	p.tj = tileJob{x: x, n: n, args: p.gargs, tails: p.tails, side: side, na: na, nb: nb}
	for i, w := range ws {
		if w == nil {
			continue
		}
		p.ensurePacked(w)
		// Decode (few tokens) streams each weight once: few large
		// contiguous row ranges keep the hardware prefetchers on long
		// runs; prefill re-reads a piece's rows for every token tile from
		// cache, so it takes smaller pieces for balance.
		chunk := max(16, min(64, w.Rows/(8*p.threads))&^15)
		if k.tri8 != nil {
			// One three-group tile per token tile.
			chunk = 3 * k.rows
		}
		if n <= decodeTokens {
			chunk = max(16, w.Rows/(2*p.threads)&^15)
		}
		p.tj.ws[i], p.tj.outs[i], p.tj.ldo[i] = w, outs[i], ldo[i]
		p.tj.chunk[i], p.tj.pieces[i] = chunk, (w.Rows+chunk-1)/chunk
	}
	p.tj.a = k.layout(qbuf[:k.actBytes(n, w0.Cols)], n, w0.Cols)
	work := 0
	for _, w := range ws {
		if w != nil {
			work += w.Rows * w.Cols * n
		}
	}
	p.tj.prep = true
	p.runSized(&p.tj, n, max(1, n/(2*p.threads)), work/8)
	p.tj.prep = false
	p.runSized(&p.tj, na+p.tj.pieces[0]+p.tj.pieces[1]+p.tj.pieces[2]+nb, 1, work)
	p.tj = tileJob{}
}

type tileJob struct {
	ws     [3]*Matrix
	outs   [3][]float32
	ldo    [3]int
	chunk  [3]int // rows per piece of each matrix
	pieces [3]int // pieces of each matrix
	x      []float32
	n      int
	a      act
	prep   bool // convert activations (items are tokens) or multiply (items are pieces)
	args   []paddedArgs
	tails  [][]float32 // per worker: the outputs of a padded row group
	// Side work (MatMul3Side): items [0, na) are side phase A, the
	// matrices' pieces follow, then nb items of phase B; aDone counts the
	// finished A items.
	side   Side
	na, nb int
	aDone  atomic.Int64
}

// maxTileOutputs bounds rows × tokens of one int8 tile call.
const maxTileOutputs = 16 * 8

// paddedArgs keeps each worker's argument block on its own cache lines.
type paddedArgs struct {
	a gemmArgs
	_ [40]byte
}

func (j *tileJob) Run(worker, lo, hi int) {
	if j.prep {
		k, cols := j.ws[0].k, j.ws[0].Cols
		for t := lo; t < hi; t++ {
			k.prepare(&j.a, t, j.x[t*cols:(t+1)*cols])
		}
		return
	}
	for it := lo; it < hi; it++ {
		if it < j.na {
			j.side.SideA(worker, it)
			j.aDone.Add(1)
			continue
		}
		m, idx := 0, it-j.na
		if all := j.pieces[0] + j.pieces[1] + j.pieces[2]; idx >= all {
			// A B item: every A item was taken before it; wait until
			// they are done.
			for j.aDone.Load() < int64(j.na) {
				runtime.Gosched()
			}
			j.side.SideB(worker, idx-all)
			continue
		}
		for idx >= j.pieces[m] {
			idx -= j.pieces[m]
			m++
		}
		w := j.ws[m]
		r0 := idx * j.chunk[m]
		j.rows(worker, w, j.outs[m], j.ldo[m], r0, min(r0+j.chunk[m], w.Rows))
	}
}

// rows multiplies rows [lo, hi) of w with every token into out.
func (j *tileJob) rows(worker int, w *Matrix, out []float32, ldo, lo, hi int) {
	k, cols := w.k, w.Cols
	// The argument block lives in the pool (per worker): the kernels are
	// called through function values, so a local would escape.
	g := &j.args[worker].a
	g.xstride = j.a.xstride
	g.dstride = j.a.dstride
	g.cstride = j.a.cstride
	g.ldo = uintptr(4 * ldo)
	g.n = uintptr(cols / k.step)
	if k.int8 {
		// Row ranges start at multiples of the group size (the chunk
		// size is one).
		dn, cn := int(g.dstride/4), int(g.dstride/4)
		if k.kquant != 0 {
			g.n = uintptr(cols / 256)
			cn = int(g.cstride / 4)
		}
		gb := packedGroupBytes(w)
		for t0 := 0; t0 < j.n; t0 += k.maxT {
			T := min(k.maxT, j.n-t0)
			if k.bf16 {
				g.x = unsafe.Pointer(&j.a.h[t0*cols])
			} else {
				g.x = unsafe.Pointer(&j.a.q[t0*cols])
				g.xd = unsafe.Pointer(&j.a.d[t0*dn])
				g.xc = unsafe.Pointer(&j.a.c[t0*cn])
			}
			r := lo
			if T == 1 {
				// Decode: the whole groups as two or four streams.
				r = k.streams(g, w.packed, gb, k.rows, out[t0*ldo:], lo, min(hi, w.Rows))
			} else if T == 8 && k.dual8 != nil {
				// Eight tokens (parallel decode, and prefill's
				// full token tiles) as pairs of groups, two streams:
				// one stream alone keeps too few reads in flight when
				// the weights come from memory.
				ts := [2]streamTile{{2, k.dual8}}
				if j.n > decodeTokens {
					// Prefill: pieces of three groups (tileMatMuls),
					// whose weights come from cache after the first
					// token tile.
					ts = [2]streamTile{{3, k.tri8}, {2, k.dual8}}
				}
				r = runStreams(g, ts, w.packed, gb, k.rows, out[t0*ldo:], lo, min(hi, w.Rows))
			}
			for ; r < hi; r += k.rows {
				g.w = unsafe.Pointer(&w.packed[r/k.rows*gb])
				if r+k.rows <= w.Rows {
					g.out = unsafe.Pointer(&out[t0*ldo+r])
					k.tiles8[T-1](g)
					continue
				}
				// The last group is padded with zero rows: the kernel
				// writes the whole group to this worker's scratch, and
				// the real rows are copied out.
				tail := j.tails[worker]
				g.out, g.ldo = unsafe.Pointer(&tail[0]), uintptr(4*k.rows)
				k.tiles8[T-1](g)
				g.ldo = uintptr(4 * ldo)
				for t := 0; t < T; t++ {
					copy(out[(t0+t)*ldo+r:(t0+t)*ldo+w.Rows], tail[t*k.rows:])
				}
			}
		}
		return
	}
	g.wstride = uintptr(w.rowBytes)
	maxT := k.maxT
	if maxT == 0 {
		maxT = 4
	}
	packed := w.packed
	if k.fileLayout {
		packed = w.Data
	}
	for t0 := 0; t0 < j.n; t0 += maxT {
		T := min(maxT, j.n-t0)
		g.x = unsafe.Pointer(&j.a.f[t0*cols])
		r := lo
		if T == 1 {
			// Decode: the 4-row groups as two streams.
			r = k.streams(g, packed, 4*w.rowBytes, 4, out[t0*ldo:], lo, hi)
		}
		for ; r+4 <= hi; r += 4 {
			g.w = unsafe.Pointer(&packed[r*w.rowBytes])
			g.out = unsafe.Pointer(&out[t0*ldo+r])
			k.tiles[1][T-1](g)
		}
		for ; r < hi; r++ {
			g.w = unsafe.Pointer(&w.Data[r*w.rowBytes])
			g.out = unsafe.Pointer(&out[t0*ldo+r])
			k.tiles[0][T-1](g)
		}
	}
}

// ensurePacked repacks w's rows for its tile kernel once (the caller
// holds p.mu); a mapped file's pages are then released.
func (p *Pool) ensurePacked(w *Matrix) {
	if w.k == nil || w.k.fileLayout || w.isPacked.Load() {
		return
	}
	w.packMu.Lock()
	if !w.isPacked.Load() {
		p.pack(w)
		w.isPacked.Store(true)
		if w.Mapped {
			releasePages(w.Data)
		}
	}
	w.packMu.Unlock()
}

// Prepack repacks every matrix of ws that has a tile kernel now, instead
// of at its first product: a mixture-of-experts model would otherwise
// repack each expert the first time a token chooses it, in the middle of
// serving.
func (p *Pool) Prepack(ws []*Matrix) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range ws {
		if w != nil {
			p.ensurePacked(w)
		}
	}
}

// decodeTokens is the most tokens of a product that is split like a decode
// step (few long row ranges: each weight is read once from memory).
const decodeTokens = 8

// dotF32Lanes16 is the dot product of F32 weight rows in purego builds
// (dotF32 there). Rows of a multiple of 16 columns sum as the AVX-512 F32
// tiles do, so the two builds give the same logits: 16 lanes accumulate by
// fused multiply-add in column order, lane i+8 is added to lane i, and the
// 8 lanes reduce as kernels.Dot reduces them. Other rows use kernels.Dot.
func dotF32Lanes16(w, x []float32) float32 {
	n := len(w)
	if n%16 != 0 {
		return kernels.Dot(w, x)
	}
	x = x[:n]
	var acc [16]float32
	for i := 0; i < n; i += 16 {
		a, b := w[i:i+16:i+16], x[i:i+16:i+16]
		for l := range acc {
			acc[l] = fma32(a[l], b[l], acc[l])
		}
	}
	var s [8]float32
	for l := range s {
		s[l] = acc[l] + acc[l+8]
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

// fma32 is a·b+c rounded once to float32 (the float64 product of two
// float32 values is exact; the float64 sum is rounded twice, which differs
// from a single float32 rounding only when it lands on a float32 tie).
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}
