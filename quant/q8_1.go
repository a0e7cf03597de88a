package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q8_1: blocks of 32 values: an f16 scale d, an f16 s = d·Σq, then 32 int8
// q; x = d·q. 36 bytes per block. It is the activation type of Q4_1 and
// Q5_1, whose offsets m multiply s.
var q8_1Traits = Traits{
	Type: gguf.TypeQ8_1, BlockSize: 32, BlockBytes: 36,
	Dequantize: dequantizeQ8_1, Quantize: quantizeQ8_1,
	VecDotType: gguf.TypeQ8_1, VecDot: vecDotQ8_1Q8_1,
}

func dequantizeQ8_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[36*b : 36*b+36]
		d := f16(blk)
		out := dst[32*b : 32*b+32]
		for j := range out {
			out[j] = d * float32(int8(blk[4+j]))
		}
	}
}

// quantizeQ8_1 follows the reference: d = max|x|/127, q = roundf(x·(1/d))
// (half away from zero), s = f16(Σq·d).
func quantizeQ8_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[36*b : 36*b+36]
		d := absMax(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(blk, FP32ToFP16(d))
		sum := 0
		for j, v := range x {
			q := int8(truncInt(roundAway(v * id)))
			blk[4+j] = byte(q)
			sum += int(q)
		}
		put16(blk[2:], FP32ToFP16(float32(sum)*d))
	}
}

// vecDotQ8_1Q8_1 exists so that a Q8_1 weight tensor is usable; the
// reference engine never stores weights as Q8_1.
func vecDotQ8_1Q8_1(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[36*b:36*b+36], x[36*b:36*b+36]
		var s int32
		for j := 4; j < 36; j++ {
			s += int32(int8(wb[j])) * int32(int8(xb[j]))
		}
		sum += float32(s) * (f16(wb) * f16(xb))
	}
	return sum
}
