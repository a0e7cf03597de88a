package compute

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// randMatrix returns a rows×cols matrix of type t from normal draws, and
// its generic twin (no tile kernel).
func randMatrix(t testing.TB, typ gguf.Type, rows, cols int, r *rand.Rand) (simd, generic *Matrix) {
	t.Helper()
	tr, err := quant.Lookup(typ)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, tr.RowBytes(cols)*rows)
	row := make([]float32, cols)
	for i := 0; i < rows; i++ {
		for j := range row {
			row[j] = float32(r.NormFloat64())
		}
		tr.Quantize(data[i*tr.RowBytes(cols):], row)
	}
	simd, err = NewMatrix("w", typ, cols, rows, data)
	if err != nil {
		t.Fatal(err)
	}
	generic, _ = NewMatrix("w", typ, cols, rows, data)
	generic.k = nil
	return simd, generic
}

func randRows(n, cols int, r *rand.Rand) []float32 {
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		if i%97 == 0 {
			x[i] *= 30 // outliers make block scales differ
		}
	}
	return x
}

// TestTileKernels compares every tile kernel with the generic dot
// products (int8 kernels bit for bit) on awkward shapes: one block, odd row and token
// counts, token counts that leave partial tiles.
func TestTileKernels(t *testing.T) {
	if len(tileKernels) == 0 {
		t.Skip("no tile kernels on this CPU/build")
	}
	checkTileKernels(t)
}

func checkTileKernels(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for typ, k := range tileKernels {
		for _, cols := range []int{k.step, 2 * k.step, 3 * k.step, 7 * k.step, 2048} {
			rowCounts := []int{1, 3, 4, 5, 8, 9, 100}
			if k.int8 {
				rowCounts = []int{k.rows, 2 * k.rows, 3 * k.rows, 13 * k.rows, 40*k.rows + 3, 1, k.rows - 1, k.rows + 1, 3*k.rows + 5} // 40 groups: decode pieces of 10, four and two streams
			}
			for _, rows := range rowCounts {
				for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 17, 33} {
					name := fmt.Sprintf("%s/%dx%d/n%d", typ, rows, cols, n)
					w, g := randMatrix(t, typ, rows, cols, r)
					if w.k == nil {
						t.Fatalf("%s: no kernel", name)
					}
					x := randRows(n, cols, r)
					got := make([]float32, n*rows)
					want := make([]float32, n*rows)
					qbuf := make([]byte, max(w.ActivationBytes(n), g.ActivationBytes(n)))
					pool.MatMul(w, x, n, got, qbuf)
					pool.MatMul(g, x, n, want, qbuf)
					// The int8 kernels sum exactly as the generic code does;
					// the float kernels differ by summation order and FMA:
					// by 2e-6 per column at the scale of these draws, or,
					// where large activations make the partial sums bigger,
					// by roundings (2⁻²⁴ each) at their scale that add up
					// as a random walk, 2·√cols of them.
					var scale []float64
					if !k.int8 || k.bf16 {
						scale = sumScales(g, x, n)
					}
					for i := range got {
						tol := 0.0
						if scale != nil {
							tol = max(2e-6*float64(cols), 2*math.Sqrt(float64(cols))*0x1p-24*scale[i])
						}
						if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
							t.Fatalf("%s: out[%d] = %g, generic %g (|Δ| %g > %g)", name, i, got[i], want[i], d, tol)
						}
					}
					checkAlone(t, name, pool, w, x, n, got, qbuf)
				}
			}
		}
	}
}

// checkAlone checks batch invariance: each of the n tokens of x alone
// gives the bits got holds for it from the batch.
func checkAlone(t *testing.T, name string, pool *Pool, w *Matrix, x []float32, n int, got []float32, qbuf []byte) {
	t.Helper()
	rows, cols := w.Rows, w.Cols
	one := make([]float32, rows)
	for tok := 0; tok < n; tok++ {
		pool.MatMul(w, x[tok*cols:(tok+1)*cols], 1, one, qbuf)
		for i := range one {
			if one[i] != got[tok*rows+i] {
				t.Fatalf("%s: token %d row %d alone %g, in batch %g", name, tok, i, one[i], got[tok*rows+i])
			}
		}
	}
}

// sumScales returns Σ|w·x| for each output of w times the n rows x (x
// before any rounding to F16 or BF16): the size of the partial sums,
// and so of one rounding in them.
func sumScales(w *Matrix, x []float32, n int) []float64 {
	cols := w.Cols
	wr := make([]float32, cols)
	b := make([]float64, n*w.Rows)
	for r := 0; r < w.Rows; r++ {
		w.RowFloat32(r, wr)
		for t := 0; t < n; t++ {
			var s float64
			for i, v := range x[t*cols : (t+1)*cols] {
				s += math.Abs(float64(wr[i]) * float64(v))
			}
			b[t*w.Rows+r] = s
		}
	}
	return b
}

// TestQuantizeRowQ8 checks the tile layout's activations against quant's
// Q8_0 activation quantization, bit for bit.
func TestQuantizeRowQ8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tr, _ := quant.Lookup(gguf.TypeQ8_0)
	for _, cols := range []int{32, 64, 96, 4096} {
		x := randRows(1, cols, r)
		x[0] = 0
		if cols >= 64 {
			clear(x[32:64]) // an all-zero block
		}
		nb := cols / 32
		q, d, c := make([]int8, cols), make([]float32, nb), make([]int32, nb)
		quantizeRowQ8(q, d, c, x, 8)
		ref := make([]byte, tr.RowBytes(cols))
		tr.QuantizeActivation(ref, x)
		for b := 0; b < nb; b++ {
			blk := ref[34*b:]
			if want := f16(blk); d[b] != want {
				t.Fatalf("cols %d block %d: d %g, want %g", cols, b, d[b], want)
			}
			var sum int32
			for j := 0; j < 32; j++ {
				if q[32*b+j] != int8(blk[2+j]) {
					t.Fatalf("cols %d block %d: q[%d] %d, want %d", cols, b, j, q[32*b+j], int8(blk[2+j]))
				}
				sum += int32(q[32*b+j])
			}
			if c[b] != -8*sum {
				t.Fatalf("cols %d block %d: correction %d, want %d", cols, b, c[b], -8*sum)
			}
		}
	}
}

// f16Oracle rounds x to the nearest half-precision value (ties to an even
// mantissa, overflow to ±Inf) by searching every finite half value,
// decoded from its fields: an oracle independent of quant's conversion.
func f16Oracle(x float32) float32 {
	if x != x {
		return x
	}
	v := math.Abs(float64(x))
	best, bestBits := math.Inf(1), -1
	for bits := 0; bits < 0x7c00; bits++ {
		e, m := bits>>10, bits&1023
		h := math.Ldexp(float64(m), -24)
		if e > 0 {
			h = math.Ldexp(float64(1024+m), e-25)
		}
		d := math.Abs(h - v)
		if d < best || d == best && bits%2 == 0 {
			best, bestBits = d, bits
		}
	}
	// Past the largest half (65504) by half an ulp (16) or more: infinity.
	out := 0.0
	if v >= 65520 {
		out = math.Inf(1)
	} else {
		e, m := bestBits>>10, bestBits&1023
		out = math.Ldexp(float64(m), -24)
		if e > 0 {
			out = math.Ldexp(float64(1024+m), e-25)
		}
	}
	if math.Signbit(float64(x)) {
		out = -out
	}
	return float32(out)
}

// TestRoundF16Row checks the F16 rounding of activations (SIMD where
// available, else generic) against an independent oracle at lengths around
// the vector width, subnormals, ties and overflow included.
func TestRoundF16Row(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 40; n++ {
		x := randRows(1, n, r)
		if n > 8 {
			x[1], x[2], x[3], x[4] = 1e-7, 65519, -3e-5, 65520
			x[5], x[6], x[7], x[8] = 1+1.0/2048, 1+3.0/2048, 2.9802322e-08, -0
		}
		got := make([]float32, n)
		roundF16Row(got, x)
		for i := range got {
			if want := f16Oracle(x[i]); math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d: [%d] %g → %g, oracle %g", n, i, x[i], got[i], want)
			}
		}
	}
}

// TestQuantizeRowQ8Ties checks the activation quantization (SIMD where
// available, else generic) on a block whose scale is exactly 1 against the
// values llama.cpp's roundf gives (half away from zero), and, with SIMD,
// random blocks against the generic code.
func TestQuantizeRowQ8Ties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const nb = 200
	x := make([]float32, 32*nb)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()*3))
	}
	// Block 0: d = 1 exactly, so the values are the scaled ones.
	tie := []float32{127, 2.5, -2.5, 0.5, -0.5, 0.49999997, -0.49999997, 126.5, -1.5, 3.4999998, 0, -0}
	want := []int8{127, 3, -3, 1, -1, 0, 0, 127, -2, 3, 0, 0}
	copy(x, tie)
	clear(x[len(tie):32])
	clear(x[64:96]) // an all-zero block
	q1, d1, c1 := make([]int8, len(x)), make([]float32, nb), make([]int32, nb)
	quantizeRowQ8(q1, d1, c1, x, 128)
	var sum int32
	for i, w := range want {
		if q1[i] != w {
			t.Errorf("q of %g: %d, want %d", tie[i], q1[i], w)
		}
		sum += int32(w)
	}
	if d1[0] != 1 || c1[0] != -128*sum || d1[2] != 0 || c1[2] != 0 {
		t.Errorf("block 0: d %g c %d (want 1, %d); zero block: d %g c %d", d1[0], c1[0], -128*sum, d1[2], c1[2])
	}
	if len(tileKernels) == 0 {
		t.Log("no SIMD quantization in this build: random blocks are covered by TestQuantizeRowQ8 against quant")
		return
	}
	q2, d2, c2 := make([]int8, len(x)), make([]float32, nb), make([]int32, nb)
	quantizeRowQ8Generic(q2, d2, c2, x, 128)
	for i := range q1 {
		if q1[i] != q2[i] {
			t.Fatalf("q[%d] of %g: %d, generic %d", i, x[i], q1[i], q2[i])
		}
	}
	for b := range d1 {
		if d1[b] != d2[b] || c1[b] != c2[b] {
			t.Fatalf("block %d: d %g c %d, generic %g %d", b, d1[b], c1[b], d2[b], c2[b])
		}
	}
}

// TestQuantizeRowQ8K checks the K kernels' activations against quant's
// Q8_K quantization, bit for bit.
func TestQuantizeRowQ8K(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	tr, _ := quant.Lookup(gguf.TypeQ8_K)
	x := randRows(1, 1024, r)
	clear(x[256:512]) // an all-zero superblock
	x[600] = -50      // a negative extreme
	ref := make([]byte, tr.RowBytes(len(x)))
	tr.Quantize(ref, x)
	for _, kind := range []int{4, 6} {
		q, d, c := make([]int8, len(x)), make([]float32, 4), make([]int32, 64)
		quantizeRowQ8K(q, d, c, x, kind)
		for b := 0; b < 4; b++ {
			blk := ref[292*b:]
			if want := math.Float32frombits(uint32(blk[0]) | uint32(blk[1])<<8 | uint32(blk[2])<<16 | uint32(blk[3])<<24); d[b] != want {
				t.Fatalf("kind %d block %d: d %g, want %g", kind, b, d[b], want)
			}
			for i := 0; i < 256; i++ {
				if q[256*b+i] != int8(blk[4+i]) {
					t.Fatalf("kind %d block %d: q[%d] %d, want %d", kind, b, i, q[256*b+i], int8(blk[4+i]))
				}
			}
			for g := 0; g < 16; g++ {
				bs := int32(int16(uint16(blk[260+2*g]) | uint16(blk[261+2*g])<<8))
				want := -32 * bs
				if kind == 4 {
					want = 0
					if g%2 == 0 {
						want = bs + int32(int16(uint16(blk[262+2*g])|uint16(blk[263+2*g])<<8))
					}
				}
				if c[16*b+g] != want {
					t.Fatalf("kind %d block %d: c[%d] %d, want %d", kind, b, g, c[16*b+g], want)
				}
			}
		}
	}
}

// MatMul3 gives exactly the results of separate products.
func TestMatMul3(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(15, 16))
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeF16, gguf.TypeF32} {
		for _, n := range []int{1, 3, 9, 40} {
			var ws [3]*Matrix
			var outs, want [3][]float32
			for i, rows := range []int{48, 16, 32} {
				ws[i], _ = randMatrix(t, typ, rows, 512, r)
				outs[i], want[i] = make([]float32, n*rows), make([]float32, n*rows)
			}
			x := randRows(n, 512, r)
			qbuf := make([]byte, 4*n*512+512)
			pool.MatMul3(ws, x, n, outs, qbuf)
			for i := range ws {
				pool.MatMul(ws[i], x, n, want[i], qbuf)
				for e := range want[i] {
					if outs[i][e] != want[i][e] {
						t.Fatalf("%s n=%d matrix %d: [%d] %g, alone %g", typ, n, i, e, outs[i][e], want[i][e])
					}
				}
			}
		}
	}
}

// The purego build's F32 rows (dotF32Lanes16) sum exactly as the AVX-512
// F32 tiles do, so both builds give the same logits.
func TestDotF32Lanes16MatchesTiles(t *testing.T) {
	k := tileKernels[gguf.TypeF32]
	if k == nil || k.step != 16 {
		t.Skip("no 16-lane F32 tile kernel on this CPU/build")
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, cols := range []int{16, 48, 64, 192, 2048} {
		for _, n := range []int{1, 3, 5} {
			w, _ := randMatrix(t, gguf.TypeF32, 9, cols, r)
			x := randRows(n, cols, r)
			got := make([]float32, n*9)
			pool.MatMul(w, x, n, got, make([]byte, w.ActivationBytes(n)))
			for tok := 0; tok < n; tok++ {
				for row := 0; row < 9; row++ {
					want := dotF32Lanes16(w.f32[row*cols:(row+1)*cols], x[tok*cols:(tok+1)*cols])
					if g := got[tok*9+row]; g != want {
						t.Fatalf("%d cols, token %d row %d: tile %g, dotF32Lanes16 %g", cols, tok, row, g, want)
					}
				}
			}
		}
	}
}

// The multi-stream tiles read the extra groups' pointers at the offsets
// the generator (_asm) assumes: argW2 = 88 … argOut4 = 128.
func TestGemmArgsLayout(t *testing.T) {
	var g gemmArgs
	if o := unsafe.Offsetof(g.more); o != 88 || unsafe.Sizeof(g.more) != 48 {
		t.Fatalf("gemmArgs.more at %d, %d bytes; the assembly expects 88 and 48", o, unsafe.Sizeof(g.more))
	}
}

// An F16 matrix multiplied as BF16 gives the products of its weights
// rounded to BF16 with BF16 activations: compared with the generic BF16
// dot products of those rounded weights (quant's, no tile kernel) within
// the float kernels' bound, and each token alone gives the same bits as
// in a batch. The exact F16 products are much further away (a weight's
// rounding is 2⁻⁹ relative), so this tells the two numerics apart.
func TestMultiplyAsBF16(t *testing.T) {
	if k := tileKernels[gguf.TypeBF16]; k == nil || !k.bf16 {
		t.Skip("no BF16 dot-product kernel on this CPU/build")
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(9, 10))
	for _, cols := range []int{32, 96, 2048} {
		for _, rows := range []int{16, 48, 100, 643} {
			for _, n := range []int{1, 8, 9, 33} {
				name := fmt.Sprintf("%dx%d/n%d", rows, cols, n)
				w, exact := randMatrix(t, gguf.TypeF16, rows, cols, r)
				if !w.MultiplyAsBF16() {
					t.Fatalf("%s: MultiplyAsBF16 did not apply", name)
				}
				bdata := make([]byte, 2*rows*cols)
				for i := 0; i < rows*cols; i++ {
					h := uint16(w.Data[2*i]) | uint16(w.Data[2*i+1])<<8
					b := quant.FP32ToBF16(quant.FP16ToFP32(h))
					bdata[2*i], bdata[2*i+1] = byte(b), byte(b>>8)
				}
				oracle, err := NewMatrix("w", gguf.TypeBF16, cols, rows, bdata)
				if err != nil {
					t.Fatal(err)
				}
				oracle.k = nil
				x := randRows(n, cols, r)
				got, want, f16 := make([]float32, n*rows), make([]float32, n*rows), make([]float32, n*rows)
				qbuf := make([]byte, max(w.ActivationBytes(n), oracle.ActivationBytes(n), exact.ActivationBytes(n)))
				pool.MatMul(w, x, n, got, qbuf)
				pool.MatMul(oracle, x, n, want, qbuf)
				pool.MatMul(exact, x, n, f16, qbuf)
				scale := sumScales(oracle, x, n)
				far := 0
				for i := range got {
					tol := max(2e-6*float64(cols), 2*math.Sqrt(float64(cols))*0x1p-24*scale[i])
					if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
						t.Fatalf("%s: out[%d] = %g, BF16 generic %g (|Δ| %g > %g)", name, i, got[i], want[i], d, tol)
					}
					if math.Abs(float64(got[i]-f16[i])) > tol {
						far++
					}
				}
				if cols == 2048 && far < len(got)/2 {
					t.Fatalf("%s: only %d of %d outputs differ from the exact F16 products beyond the bound", name, far, len(got))
				}
				checkAlone(t, name, pool, w, x, n, got, qbuf)
				if w.MultiplyAsBF16() {
					t.Fatalf("%s: MultiplyAsBF16 applied after the rows were repacked", name)
				}
			}
		}
	}
	for _, typ := range []gguf.Type{gguf.TypeBF16, gguf.TypeQ8_0, gguf.TypeF32} {
		if w, _ := randMatrix(t, typ, 16, 64, r); w.MultiplyAsBF16() {
			t.Fatalf("MultiplyAsBF16 applied to %s", typ)
		}
	}
}
