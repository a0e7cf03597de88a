package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// The start-up choice of f16LanesSIMD gives the same bits as the generic twin.
func TestF16LanesMatchGeneric(t *testing.T) {
	if !f16SIMD {
		t.Skip("no SIMD F16 lanes in this build or on this CPU: TestTypesDotAndRoundTrip checks the generic dot product against float64")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 8, 16, 24, 64, 168, 2048, 4104} {
		w, x := make([]byte, 2*n), make([]byte, 2*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(w[2*i:], FP32ToFP16(float32(r.NormFloat64())))
			binary.LittleEndian.PutUint16(x[2*i:], FP32ToFP16(float32(r.NormFloat64()*3)))
		}
		var a, b [8]float32
		for l := range a {
			a[l] = float32(r.NormFloat64())
			b[l] = a[l]
		}
		f16LanesSIMD(&a, w, x)
		f16LanesGeneric(&b, w, x)
		for l := range a {
			if math.Float32bits(a[l]) != math.Float32bits(b[l]) {
				t.Fatalf("n=%d lane %d: %g, generic %g", n, l, a[l], b[l])
			}
		}
	}
}
