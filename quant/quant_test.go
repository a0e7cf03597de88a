package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
)

// relErrBound is a loose bound on the relative RMS error of one round
// trip through each type, for Gaussian data.
var relErrBound = map[gguf.Type]float64{
	gguf.TypeF32: 0, gguf.TypeF16: 1e-3, gguf.TypeBF16: 5e-3,
	gguf.TypeQ8_0: 0.01, gguf.TypeQ8_1: 0.01, gguf.TypeQ8_K: 0.01,
	gguf.TypeQ6_K: 0.03, gguf.TypeQ5_0: 0.06, gguf.TypeQ5_1: 0.06, gguf.TypeQ5_K: 0.06,
	gguf.TypeQ4_0: 0.12, gguf.TypeQ4_1: 0.12, gguf.TypeQ4_K: 0.12, gguf.TypeIQ4_NL: 0.12, gguf.TypeIQ4_XS: 0.12,
	// MXFP4: 4-bit e2m1 levels (0, ±0.5 … ±6) under a power-of-two scale
	// that puts the largest value in [4, 8): coarser than the integer
	// 4-bit types, finer than the 3-bit ones.
	gguf.TypeMXFP4: 0.18,
	gguf.TypeQ3_K:  0.25, gguf.TypeIQ3_S: 0.25, gguf.TypeQ2_K: 0.45, gguf.TypeTQ2_0: 0.85,
}

func gaussian(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// lengths returns row lengths of one block, several blocks and an odd
// number of blocks.
func lengths(tr *Traits) []int {
	bs := tr.BlockSize
	if bs == 1 {
		return []int{1, 7, 33}
	}
	return []int{bs, 4 * bs, 7 * bs}
}

// Every type in the table: the dot product of a quantized row with a
// quantized activation equals the dot product of their dequantized values
// up to float rounding, for one block, several blocks and an odd number of
// rows; and a round trip loses no more than the type's precision allows.
func TestTypesDotAndRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, ty := range Supported() {
		tr, _ := Lookup(ty)
		xtr, err := Lookup(tr.VecDotType)
		if err != nil {
			t.Fatalf("%s: %v", ty, err)
		}
		if tr.BlockBytes != ty.BlockBytes() || tr.BlockSize != ty.BlockSize() {
			t.Errorf("%s: table says %d/%d, gguf %d/%d", ty, tr.BlockSize, tr.BlockBytes, ty.BlockSize(), ty.BlockBytes())
		}
		for _, n := range lengths(tr) {
			const rows = 3
			w := gaussian(r, rows*n, 0.02)
			x := gaussian(r, n, 1)
			wq := make([]byte, rows*tr.RowBytes(n))
			for row := 0; row < rows; row++ {
				tr.Quantize(wq[row*tr.RowBytes(n):(row+1)*tr.RowBytes(n)], w[row*n:(row+1)*n])
			}
			xq := make([]byte, xtr.RowBytes(n))
			xtr.QuantizeActivation(xq, x)
			xd := make([]float32, n)
			xtr.Dequantize(xd, xq)
			wd := make([]float32, rows*n)
			tr.Dequantize(wd, wq)
			if e, lim := rmse(wd, w)/0.02, relErrBound[ty]; e > lim || math.IsNaN(e) {
				t.Errorf("%s n=%d: relative round-trip error %.3g > %.3g", ty, n, e, lim)
			}
			for row := 0; row < rows; row++ {
				var want, mag float64
				for i := 0; i < n; i++ {
					p := float64(wd[row*n+i]) * float64(xd[i])
					want += p
					mag += math.Abs(p)
				}
				wr := wq[row*tr.RowBytes(n) : (row+1)*tr.RowBytes(n)]
				if tr.VecDotType == gguf.TypeQ8_1 && ty != gguf.TypeQ8_1 {
					// Q8_1 stores s = Σq·d (d unrounded) rounded to f16,
					// which the dot product multiplies by the weight
					// offset m: two f16 roundings away from Σ m·x.
					for b := 0; b < n/32; b++ {
						mag += math.Abs(float64(f16(wr[b*tr.BlockBytes+2:])*f16(xq[36*b+2:]))) / 1024 / 2e-6
					}
				}
				got := float64(tr.VecDot(n, wr, xq))
				if d := math.Abs(got - want); d > 2e-6*mag+1e-30 || math.IsNaN(got) {
					t.Errorf("%s n=%d row %d: dot %.8g, dequantized dot %.8g (Σ|p| %.3g)", ty, n, row, got, want, mag)
				}
			}
		}
	}
}

// Quantizers and dot products accept degenerate rows (zeros, NaN,
// infinities, huge and tiny values) without panicking, and zero rows stay
// zero.
func TestTypesDegenerateInput(t *testing.T) {
	for _, ty := range Supported() {
		tr, _ := Lookup(ty)
		xtr, _ := Lookup(tr.VecDotType)
		n := 256
		if tr.BlockSize == 32 || tr.BlockSize == 1 {
			n = 64
		}
		inputs := map[string][]float32{
			"zero": make([]float32, n), "nan": make([]float32, n), "inf": make([]float32, n),
			"huge": make([]float32, n), "tiny": make([]float32, n), "one": make([]float32, n),
		}
		for i := 0; i < n; i++ {
			inputs["nan"][i] = float32(math.NaN())
			inputs["inf"][i] = float32(math.Inf(1 - 2*(i%2)))
			inputs["huge"][i] = 3e38 * float32(1-2*(i%2))
			inputs["tiny"][i] = 1e-30 * float32(i%3)
		}
		inputs["one"][n/2] = 1
		for name, x := range inputs {
			q := make([]byte, tr.RowBytes(n))
			tr.Quantize(q, x)
			xq := make([]byte, xtr.RowBytes(n))
			xtr.QuantizeActivation(xq, x)
			_ = tr.VecDot(n, q, xq)
			out := make([]float32, n)
			tr.Dequantize(out, q)
			if name == "zero" {
				for i, v := range out {
					if v != 0 {
						t.Fatalf("%s: zero row decodes to %g at %d", ty, v, i)
					}
				}
			}
		}
	}
}

// Dequantizing the tensors llama-quantize wrote gives back the F32 source
// weights within each type's precision (an independent check of the block
// layouts: a misplaced bit would give an error of the order of the
// weights themselves).
func TestDequantizeReferenceFiles(t *testing.T) {
	src := openModel(t, "tiny-qmatrix-F32")
	for _, name := range quantizedModels(t) {
		f := openModel(t, name)
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if ti.Type == gguf.TypeF32 {
				continue
			}
			si, _ := src.Tensor(ti.Name)
			x := tensorF32(t, si)
			var ms float64
			for _, v := range x {
				ms += float64(v) * float64(v)
			}
			rel := rmse(tensorF32(t, ti), x) / math.Sqrt(ms/float64(len(x)))
			if lim := relErrBound[ti.Type]; rel > lim {
				t.Errorf("%s %s (%s): relative RMS error %.3g > %.3g", name, ti.Name, ti.Type, rel, lim)
			}
		}
	}
}

// BenchmarkVecDot measures one 4096-element row dot product per type.
func BenchmarkVecDot(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 4096
	for _, ty := range Supported() {
		tr, _ := Lookup(ty)
		xtr, _ := Lookup(tr.VecDotType)
		w := make([]byte, tr.RowBytes(n))
		x := make([]byte, xtr.RowBytes(n))
		tr.Quantize(w, gaussian(r, n, 1))
		xtr.QuantizeActivation(x, gaussian(r, n, 1))
		b.Run(ty.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				tr.VecDot(n, w, x)
			}
		})
	}
}
