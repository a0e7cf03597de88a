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

// FP32ToFP16Row (F16C where the CPU has it) and FP32ToFP16 agree on every
// half-precision value, the float32s either side of it and of each
// midpoint between neighbours (the ties and near-ties of rounding),
// infinities, NaNs, and random bit patterns. Where F16C runs, the
// hardware is an oracle for the generic rounding.
func TestFP32ToFP16RowMatchesScalar(t *testing.T) {
	var src []float32
	for h := 0; h < 1<<16; h++ {
		f := FP16ToFP32(uint16(h))
		next := FP16ToFP32(uint16(h + 1))
		mid := float32((float64(f) + float64(next)) / 2)
		b, mb := math.Float32bits(f), math.Float32bits(mid)
		src = append(src, f, math.Float32frombits(b+1), math.Float32frombits(b-1), mid, math.Float32frombits(mb+1), math.Float32frombits(mb-1))
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 1<<16; i++ {
		src = append(src, math.Float32frombits(r.Uint32()))
	}
	src = append(src, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 65520, 65519.99, -65520, 1e-8, -6e-8)
	for _, n := range []int{len(src), len(src) - 3, 5} {
		dst := make([]uint16, n)
		FP32ToFP16Row(dst, src[:n])
		for i, f := range src[:n] {
			if want := FP32ToFP16(f); dst[i] != want {
				t.Fatalf("n=%d: %g (%#08x) gives %#04x, FP32ToFP16 %#04x (SIMD %v)", n, f, math.Float32bits(f), dst[i], want, f16SIMD)
			}
		}
	}
}

// FP32ToBF16Row (AVX2 where the CPU has it) agrees with FP32ToBF16 on
// every BF16 value, the float32s either side of it and of each midpoint
// between neighbours (ties to even and near-ties), subnormals, infinities,
// NaNs (quiet and signalling, both signs) and random bit patterns. The
// oracle is an independent rounding in float64 arithmetic: the nearest
// BF16, ties to the even one.
func TestFP32ToBF16RowMatchesScalar(t *testing.T) {
	var src []float32
	for h := 0; h < 1<<16; h++ {
		b := uint32(h) << 16
		for _, d := range []int32{0, 1, -1, 0x8000, 0x7fff, 0x8001} {
			src = append(src, math.Float32frombits(uint32(int32(b)+d)))
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 1<<16; i++ {
		src = append(src, math.Float32frombits(r.Uint32()))
	}
	src = append(src, float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000))
	for _, n := range []int{len(src), len(src) - 3, 15, 17} {
		dst := make([]uint16, n)
		FP32ToBF16Row(dst, src[:n])
		for i, f := range src[:n] {
			if want := bf16Nearest(f); dst[i] != want {
				t.Fatalf("n=%d: %g (%#08x) gives %#04x, nearest BF16 %#04x (SIMD %v)", n, f, math.Float32bits(f), dst[i], want, f16SIMD)
			}
			if dst[i] != FP32ToBF16(f) {
				t.Fatalf("n=%d: %#08x gives %#04x, FP32ToBF16 %#04x", n, math.Float32bits(f), dst[i], FP32ToBF16(f))
			}
		}
	}
}

// bf16Nearest rounds f to BF16 by comparing distances in float64 (exact
// for these values): the nearer of the two BF16 magnitudes around |f|,
// the one with an even last bit on a tie, past the largest finite one
// infinity; a NaN keeps its top half, quieted.
func bf16Nearest(f float32) uint16 {
	u := math.Float32bits(f)
	if f != f {
		return uint16(u>>16) | 0x40
	}
	sign, mag := uint16(u>>16)&0x8000, u&0x7fffffff
	lo := mag &^ 0xffff // toward zero
	if lo == 0x7f800000 {
		return sign | 0x7f80 // infinity
	}
	e := int(lo >> 23)
	ulp := math.Ldexp(1, max(e, 1)-127-7)
	a, l := float64(math.Float32frombits(mag)), float64(math.Float32frombits(lo))
	dl, dh := a-l, l+ulp-a
	if dl < dh || (dl == dh && (lo>>16)&1 == 0) {
		return sign | uint16(lo>>16)
	}
	return sign | uint16((lo+0x10000)>>16)
}

// Every half converts to the table's value (NaNs to a NaN), with odd
// tails.
func TestFP16ToFP32RowMatchesScalar(t *testing.T) {
	src := make([]uint16, 1<<16)
	for h := range src {
		src[h] = uint16(h)
	}
	for _, n := range []int{len(src), len(src) - 3, 7, 9} {
		dst := make([]float32, n)
		FP16ToFP32Row(dst, src[:n])
		for i, h := range src[:n] {
			want := FP16ToFP32(h)
			if math.Float32bits(dst[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(dst[i]))) {
				t.Fatalf("n=%d: %#04x gives %g, FP16ToFP32 %g (SIMD %v)", n, h, dst[i], want, f16SIMD)
			}
		}
	}
}
