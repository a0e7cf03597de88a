package quant

import (
	"encoding/binary"
	"math"
)

// Shared helpers of the block quantizers. The quantizers reproduce the
// reference engine's float32 arithmetic operation by operation: products
// that feed a sum are wrapped in float32(…) so the Go compiler never fuses
// them into one FMA (which rounds once instead of twice) on platforms where
// it would, and so the bytes written match the reference files.

// groupMaxEps is the magnitude below which a group counts as all zero.
const groupMaxEps = 1e-15

// nearestInt rounds to the nearest integer, ties to even (ggml's
// nearest_int, which adds 1.5·2²³ in float32).
func nearestInt(f float32) int {
	r := math.RoundToEven(float64(f))
	if !(r >= -(1<<30) && r <= 1<<30) { // NaN or out of range
		return 0
	}
	return int(r)
}

// roundAway rounds half away from zero, as C's roundf.
func roundAway(x float32) float32 { return float32(math.Round(float64(x))) }

// truncInt converts like a C float-to-int cast (toward zero), mapping NaN
// and values out of range to 0 instead of undefined results.
func truncInt(x float32) int {
	if !(x > -(1<<30) && x < 1<<30) {
		return 0
	}
	return int(x)
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

func put16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

// f16 reads a half-precision value.
func f16(b []byte) float32 { return FP16ToFP32(binary.LittleEndian.Uint16(b)) }

// putF16 stores v rounded to half precision and returns the stored value.
func putF16(b []byte, v float32) float32 {
	h := FP32ToFP16(v)
	binary.LittleEndian.PutUint16(b, h)
	return FP16ToFP32(h)
}

func absMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	return m
}

// signedAbsMax returns the value of largest magnitude (the first one on
// ties) and its magnitude.
func signedAbsMax(x []float32) (m, amax float32) {
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, m = a, v
		}
	}
	return m, amax
}
