package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// requireSIMD skips a test that compares SIMD code with its generic twin
// in builds where both are the same code (purego, or no SIMD for this
// architecture): there the comparison could not fail.
func requireSIMD(t *testing.T) {
	t.Helper()
	if !haveSIMD {
		t.Skip("no SIMD kernels in this build: the generic code is checked against float64 by TestGenericAgainstFloat64")
	}
}

// The generic (and so every) Dot, AXPY, DotRows and AXPYRows agree with
// float64 arithmetic to float32 rounding, and the exponentials with math.Exp.
func TestGenericAgainstFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for n := 0; n <= 70; n++ {
		a, b := make([]float32, n), make([]float32, n)
		var want, mag float64
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		for name, got := range map[string]float32{"Dot": Dot(a, b), "dotGeneric": dotGeneric(a, b)} {
			if d := math.Abs(float64(got) - want); d > 1e-6*mag+1e-30 {
				t.Fatalf("%s n=%d: %g, float64 %g", name, n, got, want)
			}
		}
		y := append([]float32(nil), b...)
		AXPY(y, 0.37, a)
		for i := range y {
			w := float64(b[i]) + 0.37*float64(a[i])
			if d := math.Abs(float64(y[i]) - w); d > 1e-6*(math.Abs(float64(b[i]))+math.Abs(float64(a[i]))) {
				t.Fatalf("AXPY n=%d: y[%d] %g, float64 %g", n, i, y[i], w)
			}
		}
	}
	x := []float32{0, 1, -1, 2.5, -20, 10, -87, 50}
	got := make([]float32, len(x))
	expSub(got, x, 0.75)
	for i, v := range x {
		w := math.Exp(float64(v) - 0.75)
		if d := math.Abs(float64(got[i]) - w); d > 2e-7*w {
			t.Errorf("exp(%g-0.75) = %g, math.Exp %g", v, got[i], w)
		}
	}
	up := []float32{1, 2, -3, 0.5, 1, -1, 2, 3}
	swiglu(got, x, up)
	for i, g := range x {
		w := float64(g) / (1 + math.Exp(-float64(g))) * float64(up[i])
		if d := math.Abs(float64(got[i]) - w); d > 1e-6*math.Abs(w)+1e-30 {
			t.Errorf("swiglu(%g, %g) = %g, float64 %g", g, up[i], got[i], w)
		}
	}
}
