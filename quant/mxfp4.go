package quant

import (
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

// MXFP4 (OCP microscaling FP4): blocks of 32 values, one e8m0 exponent byte
// e then 16 bytes of 4-bit e2m1 codes (laid out as Q4_0: element j in the
// low nibble of byte j, element j+16 in the high one); x = 2^(e-127)·v(q)
// with v the e2m1 value. As ggml, the table holds the values doubled
// (integers) and the scale is halved: x = mxfp4Values[q]·2^(e-128).
// 17 bytes per block.
var mxfp4Traits = Traits{
	Type: gguf.TypeMXFP4, BlockSize: 32, BlockBytes: 17,
	Dequantize: dequantizeMXFP4, Quantize: quantizeMXFP4,
	VecDotType: gguf.TypeQ8_0, VecDot: vecDotMXFP4Q8_0,
}

// mxfp4Values are the e2m1 values doubled (a constant of the format).
var mxfp4Values = [16]int8{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}

// E8M0Half is 2^(e-128): half the e8m0 scale, exact (subnormal for e < 2).
func E8M0Half(e uint8) float32 {
	if e < 2 {
		return math.Float32frombits(0x00200000 << e)
	}
	return math.Float32frombits(uint32(e-1) << 23)
}

func dequantizeMXFP4(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[17*b : 17*b+17]
		d := E8M0Half(blk[0])
		out := dst[32*b : 32*b+32]
		for j := 0; j < 16; j++ {
			q := blk[1+j]
			out[j] = float32(mxfp4Values[q&15]) * d
			out[j+16] = float32(mxfp4Values[q>>4]) * d
		}
	}
}

// quantizeMXFP4 is the reference's quantize_row_mxfp4_ref (llama-quantize
// ignores importance weights for this type): e = floor(log2 max|x|) - 2 +
// 127, so the largest value lands in [4, 8)·2^(e-127), then each value
// takes the code of the nearest level (the first on a tie).
func quantizeMXFP4(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[17*b : 17*b+17]
		amax := absMax(x)
		var e uint8
		if amax > 0 {
			e = uint8(int(math.Floor(float64(float32(math.Log2(float64(amax)))))) - 2 + 127)
		}
		d := E8M0Half(e)
		blk[0] = e
		for j := 0; j < 16; j++ {
			blk[1+j] = bestIndexMXFP4(x[j], d) | bestIndexMXFP4(x[j+16], d)<<4
		}
	}
}

func bestIndexMXFP4(x, d float32) uint8 {
	best, bestErr := 0, abs32(float32(mxfp4Values[0])*d-x)
	for i := 1; i < 16; i++ {
		if err := abs32(float32(mxfp4Values[i])*d - x); err < bestErr {
			best, bestErr = i, err
		}
	}
	return uint8(best)
}

func vecDotMXFP4Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[17*b:17*b+17], x[34*b:34*b+34]
		d := f16(xb) * E8M0Half(wb[0])
		var s int32
		for j := 0; j < 16; j++ {
			q := wb[1+j]
			s += int32(mxfp4Values[q&15])*int32(int8(xb[2+j])) + int32(mxfp4Values[q>>4])*int32(int8(xb[18+j]))
		}
		sum += d * float32(s)
	}
	return sum
}
