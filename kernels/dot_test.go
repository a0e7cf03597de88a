package kernels

import (
	"math/rand/v2"
	"testing"
)

// Dot and AXPY (SIMD where available) equal their generic twins bit for
// bit at every length around the vector width.
func TestDotAXPYMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n <= 70; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		if got, want := Dot(a, b), dotGeneric(a, b); got != want {
			t.Fatalf("Dot n=%d: %g, generic %g", n, got, want)
		}
		y1, y2 := append([]float32(nil), b...), append([]float32(nil), b...)
		AXPY(y1, 0.37, a)
		axpyGeneric(y2, 0.37, a)
		for i := range y1 {
			if y1[i] != y2[i] {
				t.Fatalf("AXPY n=%d: y[%d] %g, generic %g", n, i, y1[i], y2[i])
			}
		}
	}
}
