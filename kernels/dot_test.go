package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Dot and AXPY (SIMD where available) equal their generic twins bit for
// bit at every length around the vector width.
func TestDotAXPYMatchGeneric(t *testing.T) {
	requireSIMD(t)
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n <= 70; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		if got, want := Dot(a, b), dotGeneric(a, b); got != want {
			t.Fatalf("Dot n=%d: %g, generic %g", n, got, want)
		}
		// Scale against float64 products rounded once (exact: a float32
		// product fits in a float64).
		x := append([]float32(nil), a...)
		Scale(x, 0.37)
		for i := range x {
			if want := float32(float64(a[i]) * float64(float32(0.37))); x[i] != want {
				t.Fatalf("Scale n=%d: x[%d] %g, want %g", n, i, x[i], want)
			}
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
	requireSIMD(t)
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

// The vector exponential gives float32(math.Exp(x)) but, in rare cases
// where the exact value lies within ~1e-16 of a float32 rounding boundary,
// the neighbouring float32: count those and bound them to one ulp.
func TestExpMatchesGeneric(t *testing.T) {
	requireSIMD(t)
	r := rand.New(rand.NewPCG(21, 22))
	const n = 1 << 20
	x := make([]float32, n+5)
	up := make([]float32, n+5)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 8)
		up[i] = float32(r.NormFloat64())
		if i%1000 == 0 {
			x[i] = float32(r.Float64()*220 - 120) // overflow and underflow ranges
		}
	}
	x[1], x[2], x[3] = 0, -103.9, 88.7
	got, want := make([]float32, len(x)), make([]float32, len(x))
	check := func(what string) {
		off := 0
		for i := range got {
			if got[i] == want[i] {
				continue
			}
			off++
			if d := math.Float32bits(got[i]) - math.Float32bits(want[i]); d != 1 && d != ^uint32(0) {
				t.Fatalf("%s(%g): %g, generic %g", what, x[i], got[i], want[i])
			}
		}
		if off > len(got)/100000 {
			t.Fatalf("%s: %d of %d results differ from the generic ones", what, off, len(got))
		}
		t.Logf("%s: %d of %d results one ulp from the generic ones", what, off, len(got))
	}
	expSub(got, x, 0.75)
	expSubGeneric(want, x, 0.75)
	check("exp")
	swiglu(got, x, up)
	swigluGeneric(want, x, up)
	check("swiglu")
}
