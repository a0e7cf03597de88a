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

// DotRows and AXPYRows equal their generic twins bit for bit.
func TestRowsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, dim := range []int{8, 16, 56, 64, 72, 128, 136, 6} {
		for _, n := range []int{0, 1, 3, 4, 5, 9, 33} {
			stride := dim + 8
			q := make([]float32, dim)
			k := make([]float32, n*stride+dim)
			for i := range q {
				q[i] = float32(r.NormFloat64())
			}
			for i := range k {
				k[i] = float32(r.NormFloat64())
			}
			got, want := make([]float32, n), make([]float32, n)
			DotRows(got, q, k, stride)
			dotRowsGeneric(want, q, k, stride)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("DotRows dim %d n %d: [%d] %g, generic %g", dim, n, i, got[i], want[i])
				}
			}
			o1, o2 := append([]float32(nil), q...), append([]float32(nil), q...)
			AXPYRows(o1, k[:n], k, stride)
			axpyRowsGeneric(o2, k[:n], k, stride)
			for i := range o1 {
				if o1[i] != o2[i] {
					t.Fatalf("AXPYRows dim %d n %d: [%d] %g, generic %g", dim, n, i, o1[i], o2[i])
				}
			}
		}
	}
}
