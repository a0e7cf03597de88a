package kernels

import (
	"math"

	"github.com/shimmer-llm/shimmer/quant"
)

// DotF16Lanes16 returns the dot product of two rows of half-precision
// values (len(a) a multiple of 16, len(x) ≥ len(a)) summed as llama.cpp's
// AVX-512 matrix kernel for F16 weights (llamafile's tinyBLAS) sums it:
// 16 lanes, lane l taking elements l, l+16, … by fused multiply-adds in
// order, then the lanes added as GCC's _mm512_reduce_add_ps adds them
// (see reduce16).
func DotF16Lanes16(a, x []uint16) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = x[len(a)-1]
	return dotF16Lanes16(a, x[:len(a)])
}

// DotF32Lanes16 is DotF16Lanes16 for float32 rows.
func DotF32Lanes16(a, x []float32) float32 {
	if len(a) == 0 {
		return 0
	}
	_ = x[len(a)-1]
	return dotF32Lanes16(a, x[:len(a)])
}

func dotF16Lanes16Generic(a, x []uint16) float32 {
	var acc [16]float32
	for k := 0; k+16 <= len(a); k += 16 {
		for l := range acc {
			acc[l] = float32(math.FMA(float64(quant.FP16ToFP32(a[k+l])), float64(quant.FP16ToFP32(x[k+l])), float64(acc[l])))
		}
	}
	return reduce16(&acc)
}

func dotF32Lanes16Generic(a, x []float32) float32 {
	var acc [16]float32
	for k := 0; k+16 <= len(a); k += 16 {
		for l := range acc {
			acc[l] = float32(math.FMA(float64(a[k+l]), float64(x[k+l]), float64(acc[l])))
		}
	}
	return reduce16(&acc)
}

// reduce16 adds 16 lanes as _mm512_reduce_add_ps: the upper 8 onto the
// lower 8, the upper 4 of those onto the lower 4, then (l0+l2) + (l1+l3).
func reduce16(acc *[16]float32) float32 {
	var t8 [8]float32
	for i := range t8 {
		t8[i] = acc[8+i] + acc[i]
	}
	var t4 [4]float32
	for i := range t4 {
		t4[i] = t8[4+i] + t8[i]
	}
	return (t4[0] + t4[2]) + (t4[1] + t4[3])
}
