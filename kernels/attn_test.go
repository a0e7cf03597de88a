package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shimmer-llm/shimmer/quant"
)

// attnCase is random attention input: rows query rows (qs apart) of dim,
// one transposed key block and n value rows (vs apart), in float32 and
// the same values in half precision.
type attnCase struct {
	rows, qs, dim, n, vs int
	q, kt, v, p          []float32
	kt16, v16            []uint16
}

func newAttnCase(r *rand.Rand, rows, dim, n int) *attnCase {
	c := &attnCase{rows: rows, qs: dim + 3, dim: dim, n: n, vs: dim + 5}
	c.q = make([]float32, rows*c.qs)
	for i := range c.q {
		c.q[i] = float32(r.NormFloat64())
	}
	half := func(k int) ([]float32, []uint16) {
		f, h := make([]float32, k), make([]uint16, k)
		for i := range f {
			h[i] = quant.FP32ToFP16(float32(r.NormFloat64()))
			f[i] = quant.FP16ToFP32(h[i])
		}
		return f, h
	}
	c.kt, c.kt16 = half(dim * AttnBlock)
	c.v, c.v16 = half(n * c.vs)
	c.p = make([]float32, rows*AttnBlock)
	for i := range c.p {
		c.p[i] = r.Float32()
	}
	return c
}

// The attention kernels agree with float64 arithmetic to float32
// rounding, and the SIMD ones with the generic ones to one rounding of
// the double-rounded generic FMA (in practice: exactly), for any number of
// rows and widths that are and are not multiples of 16.
func TestAttnKernels(t *testing.T) {
	attnPaths(func(path string) {
		t.Run(path, testAttnKernels)
	})
}

func testAttnKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, dim := range []int{1, 7, 16, 48, 64, 80, 96, 128, 256} {
		for _, rows := range []int{1, 2, 3, 4, 5, 7, 8, 9} {
			for _, n := range []int{1, 5, 63, 64} {
				c := newAttnCase(r, rows, dim, n)
				// Scores.
				want := make([]float64, rows*AttnBlock)
				mag := make([]float64, rows*AttnBlock)
				for i := 0; i < rows; i++ {
					for j := 0; j < AttnBlock; j++ {
						for d := 0; d < dim; d++ {
							x := float64(c.q[i*c.qs+d]) * float64(c.kt[d*AttnBlock+j])
							want[i*AttnBlock+j] += x
							mag[i*AttnBlock+j] += math.Abs(x)
						}
					}
				}
				outs := map[string][]float32{}
				for _, name := range []string{"f32", "f16", "f32 generic", "f16 generic"} {
					o := make([]float32, rows*AttnBlock)
					switch name {
					case "f32":
						AttnScores(o, c.q, rows, c.qs, c.kt, dim)
					case "f16":
						AttnScoresF16(o, c.q, rows, c.qs, c.kt16, dim)
					case "f32 generic":
						attnScoresGeneric(o, c.q, rows, c.qs, c.kt, dim)
					case "f16 generic":
						attnScoresF16Generic(o, c.q, rows, c.qs, c.kt16, dim)
					}
					outs[name] = o
					for i, g := range o {
						if d := math.Abs(float64(g) - want[i]); d > 1e-6*mag[i]+1e-30 {
							t.Fatalf("scores %s dim %d rows %d: [%d] = %g, float64 %g", name, dim, rows, i, g, want[i])
						}
					}
				}
				checkSame(t, "scores", outs, dim, rows, n)
				// Weighted values, added to a nonzero start.
				start := make([]float32, rows*c.qs)
				for i := range start {
					start[i] = float32(r.NormFloat64())
				}
				outs = map[string][]float32{}
				for _, name := range []string{"f32", "f16", "f32 generic", "f16 generic"} {
					o := append([]float32(nil), start...)
					switch name {
					case "f32":
						AttnPV(o, rows, c.qs, c.p, c.v, c.vs, n, dim)
					case "f16":
						AttnPVF16(o, rows, c.qs, c.p, c.v16, c.vs, n, dim)
					case "f32 generic":
						attnPVGeneric(o, rows, c.qs, c.p, c.v, c.vs, n, dim)
					case "f16 generic":
						attnPVF16Generic(o, rows, c.qs, c.p, c.v16, c.vs, n, dim)
					}
					outs[name] = o
					for i := 0; i < rows; i++ {
						for d := 0; d < c.qs; d++ {
							w, m := float64(start[i*c.qs+d]), math.Abs(float64(start[i*c.qs+d]))
							if d < dim {
								for j := 0; j < n; j++ {
									x := float64(c.p[i*AttnBlock+j]) * float64(c.v[j*c.vs+d])
									w += x
									m += math.Abs(x)
								}
							}
							if g := o[i*c.qs+d]; math.Abs(float64(g)-w) > 1e-6*m+1e-30 {
								t.Fatalf("pv %s dim %d rows %d n %d: [%d][%d] = %g, float64 %g", name, dim, rows, n, i, d, g, w)
							}
						}
					}
				}
				checkSame(t, "pv", outs, dim, rows, n)
			}
		}
	}
}

// checkSame requires the SIMD results to equal the generic ones, allowing
// one float32 ulp for the generic code's double rounding (float64 FMA,
// then float32).
func checkSame(t *testing.T, what string, outs map[string][]float32, dim, rows, n int) {
	t.Helper()
	if !haveSIMD {
		return
	}
	for _, k := range []string{"f32", "f16"} {
		a, b := outs[k], outs[k+" generic"]
		for i := range a {
			if a[i] != b[i] && math.Abs(float64(a[i])-float64(b[i])) > float64(ulp(b[i])) {
				t.Fatalf("%s %s dim %d rows %d n %d: [%d] SIMD %g, generic %g", what, k, dim, rows, n, i, a[i], b[i])
			}
		}
	}
}

func ulp(x float32) float32 {
	b := math.Float32bits(float32(math.Abs(float64(x))))
	return math.Float32frombits(b+1) - math.Float32frombits(b)
}

// softmaxBlock is SoftmaxBlocks on one row.
func softmaxBlock(x *[AttnBlock]float32, lo, hi int, s, m float32) (m2 float32, sum float64, alpha float32) {
	ms, as, ss := [1]float32{m}, [1]float32{}, [1]float64{}
	SoftmaxBlocks(x[:], 1, lo, hi, s, ms[:], as[:], ss[:])
	return ms[0], ss[0], as[0]
}

// SoftmaxBlocks steps on one row, chained over blocks, give softmax as a float64
// two-pass softmax computes it; the SIMD scale-max and sum equal their
// generic twins exactly.
func TestSoftmaxBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(300)
		first := r.IntN(64) // the first position's lane in its block
		scale := float32(0.125 + r.Float64())
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 8)
		}
		m, l := float32(math.Inf(-1)), 0.0
		p := make([]float64, n) // unnormalised, rescaled as m grows
		for base := 0; base < first+n; base += AttnBlock {
			var blk [AttnBlock]float32
			lo, hi := max(first-base, 0), min(first+n-base, AttnBlock)
			for j := range blk {
				blk[j] = float32(r.NormFloat64()) // garbage outside [lo, hi)
			}
			for j := lo; j < hi; j++ {
				blk[j] = x[base+j-first]
			}
			if haveSIMD {
				var a [AttnBlock]float32
				for j := range a {
					a[j] = float32(r.NormFloat64())
				}
				b := a
				if ma, mb := scaleMax64(&a, scale), scaleMax64Generic(&b, scale); ma != mb || a != b {
					t.Fatalf("scaleMax64: %g, generic %g", ma, mb)
				}
				if sa, sb := sum64(&a), sum64Generic(&b); sa != sb {
					t.Fatalf("sum64: %g, generic %g", sa, sb)
				}
			}
			var sum float64
			var alpha float32
			m, sum, alpha = softmaxBlock(&blk, lo, hi, scale, m)
			for i := 0; i < base+lo-first; i++ {
				p[i] *= float64(alpha)
			}
			l = l*float64(alpha) + sum
			for j := range blk {
				if (j < lo || j >= hi) && blk[j] != 0 {
					t.Fatalf("lane %d outside [%d, %d): %g, expected 0", j, lo, hi, blk[j])
				}
			}
			for j := lo; j < hi; j++ {
				p[base+j-first] = float64(blk[j])
			}
		}
		wm := math.Inf(-1)
		for _, v := range x {
			wm = math.Max(wm, float64(v*scale))
		}
		var ws float64
		for _, v := range x {
			ws += math.Exp(float64(v*scale) - wm)
		}
		for i, v := range x {
			want := math.Exp(float64(v*scale)-wm) / ws
			if got := p[i] / l; math.Abs(got-want) > 1e-6*want+1e-12 {
				t.Fatalf("n %d first %d: p[%d] = %g, float64 %g", n, first, i, got, want)
			}
		}
	}
}

// The softmax blocks' float32 exponential is within 2 ulp of float64's
// math.Exp (rounded to float32) over the whole range it is used on, gives 0
// below 2^-149 and for -Inf and NaN, and its SIMD form gives the same bits
// as the generic one.
func TestExpBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var worst float64
	for trial := 0; trial < 20000; trial++ {
		var x, y [AttnBlock]float32
		m := float32(r.NormFloat64() * 4)
		for j := range x {
			switch r.IntN(16) {
			case 0:
				x[j] = float32(math.Inf(-1))
			case 1:
				x[j] = float32(math.NaN())
			case 2:
				x[j] = m - float32(r.Float64()*120) // reaches the subnormals and 0
			case 3:
				x[j] = m + float32(r.Float64()*100) // past the upper clamp
			default:
				x[j] = m - float32(r.ExpFloat64()*4)
			}
		}
		y = x
		expBlockGeneric(&y, m)
		if haveSIMD {
			// Rows of one call: this row goes first, second and third
			// of three.
			for at := range 3 {
				var z, w [3 * AttnBlock]float32
				ms := [3]float32{m + 1, m - 2, m + 3}
				for j := range z {
					z[j] = m - float32(r.ExpFloat64()*4)
				}
				copy(z[at*AttnBlock:], x[:])
				ms[at] = m
				w = z
				expRows(z[:], ms[:], 3)
				expRowsGeneric(w[:], ms[:], 3)
				for j := range z {
					if math.Float32bits(z[j]) != math.Float32bits(w[j]) {
						t.Fatalf("row %d of 3, exp(%g - %g): SIMD %g, generic %g", j/AttnBlock, x[j%AttnBlock], ms[j/AttnBlock], z[j], w[j])
					}
				}
			}
		}
		for j, v := range x {
			d := v - m
			want := float32(math.Exp(float64(d)))
			switch {
			case math.IsNaN(float64(d)) || d < -110:
				want = 0
			case d > 88:
				want = float32(math.Exp(88))
			}
			got := y[j]
			if want < 0x1p-126 {
				if math.Abs(float64(got-want)) > 0x1p-149 {
					t.Fatalf("exp(%g): %g, want %g", d, got, want)
				}
				continue
			}
			e := math.Abs(float64(got)-float64(want)) / float64(ulp(want))
			worst = max(worst, e)
			if e > 2 {
				t.Fatalf("exp(%g): %g, want %g (%.1f ulp)", d, got, want, e)
			}
		}
	}
	t.Logf("largest error %.2f ulp", worst)
}

// SoftmaxBlocks gives each row what it gives the row alone.
func TestSoftmaxBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for trial := 0; trial < 300; trial++ {
		rows := 1 + r.IntN(9)
		lo := r.IntN(AttnBlock)
		hi := lo + 1 + r.IntN(AttnBlock-lo)
		scale := float32(0.125 + r.Float64())
		x := make([]float32, rows*AttnBlock)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 8)
		}
		m := make([]float32, rows)
		for i := range m {
			m[i] = float32(math.Inf(-1))
			if r.IntN(2) == 0 {
				m[i] = float32(r.NormFloat64() * 8)
			}
		}
		one := append([]float32(nil), x...)
		m0 := append([]float32(nil), m...)
		alpha, sum := make([]float32, rows), make([]float64, rows)
		SoftmaxBlocks(x, rows, lo, hi, scale, m, alpha, sum)
		for row := range rows {
			b := (*[AttnBlock]float32)(one[row*AttnBlock : (row+1)*AttnBlock])
			m2, s2, a2 := softmaxBlock(b, lo, hi, scale, m0[row])
			if m2 != m[row] || s2 != sum[row] || a2 != alpha[row] {
				t.Fatalf("row %d of %d: m %g sum %g alpha %g, alone %g %g %g", row, rows, m[row], sum[row], alpha[row], m2, s2, a2)
			}
			for j := range b {
				if math.Float32bits(b[j]) != math.Float32bits(x[row*AttnBlock+j]) {
					t.Fatalf("row %d of %d lane %d: %g, alone %g", row, rows, j, x[row*AttnBlock+j], b[j])
				}
			}
		}
	}
}
