package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shimmer-llm/shimmer/quant"
)

// The 16-lane dot products (the SIMD kernels where the CPU has them) give
// exactly the generic twins' sums, and those are the float64 dot product
// to float32 rounding (an independent oracle).
func TestLanes16(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{16, 32, 48, 128, 2048, 5632} {
		for rep := 0; rep < 20; rep++ {
			a, x := make([]float32, n), make([]float32, n)
			a16, x16 := make([]uint16, n), make([]uint16, n)
			exact, mag := 0.0, 0.0
			for i := range a {
				a[i], x[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*3)
				a16[i], x16[i] = quant.FP32ToFP16(a[i]), quant.FP32ToFP16(x[i])
			}
			for i := range a {
				exact += float64(a[i]) * float64(x[i])
				mag += math.Abs(float64(a[i]) * float64(x[i]))
			}
			if got, want := DotF32Lanes16(a, x), dotF32Lanes16Generic(a, x); got != want {
				t.Fatalf("n %d: F32 kernel %v, generic %v", n, got, want)
			}
			if d := math.Abs(float64(DotF32Lanes16(a, x)) - exact); d > 1e-6*mag {
				t.Fatalf("n %d: F32 sum off by %g (magnitude %g)", n, d, mag)
			}
			exact16, mag16 := 0.0, 0.0
			for i := range a16 {
				p := float64(quant.FP16ToFP32(a16[i])) * float64(quant.FP16ToFP32(x16[i]))
				exact16 += p
				mag16 += math.Abs(p)
			}
			if got, want := DotF16Lanes16(a16, x16), dotF16Lanes16Generic(a16, x16); got != want {
				t.Fatalf("n %d: F16 kernel %v, generic %v", n, got, want)
			}
			if d := math.Abs(float64(DotF16Lanes16(a16, x16)) - exact16); d > 1e-6*mag16 {
				t.Fatalf("n %d: F16 sum off by %g (magnitude %g)", n, d, mag16)
			}
		}
	}
	// The lane order: element i goes to lane i%16, lanes summed as
	// _mm512_reduce_add_ps; with values of very different sizes, only
	// that order gives this sum.
	a := make([]float32, 32)
	x := make([]float32, 32)
	for i := range a {
		a[i], x[i] = float32(math.Ldexp(1, (i*7)%40-20)), 1+float32(i)/64
	}
	var acc [16]float32
	for i := range a {
		acc[i%16] = float32(math.FMA(float64(a[i]), float64(x[i]), float64(acc[i%16])))
	}
	var t8 [8]float32
	for i := range t8 {
		t8[i] = acc[i] + acc[i+8]
	}
	want := (t8[0] + t8[4] + (t8[2] + t8[6])) + (t8[1] + t8[5] + (t8[3] + t8[7]))
	if got := DotF32Lanes16(a, x); got != want {
		t.Errorf("lane order: %v, want %v", got, want)
	}
}
