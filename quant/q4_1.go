package quant

import (
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q4_1: blocks of 32 values: an f16 scale d, an f16 offset m, then 16 bytes
// of 4-bit q (element j in the low nibble of byte j, element j+16 in the
// high nibble); x = d·q + m. 20 bytes per block.
var q4_1Traits = Traits{
	Type: gguf.TypeQ4_1, BlockSize: 32, BlockBytes: 20,
	Dequantize: dequantizeQ4_1, Quantize: quantizeQ4_1,
	VecDotType: gguf.TypeQ8_1, VecDot: vecDotQ4_1Q8_1,
}

func dequantizeQ4_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[20*b : 20*b+20]
		d, m := f16(blk), f16(blk[2:])
		out := dst[32*b : 32*b+32]
		for j := 0; j < 16; j++ {
			q := blk[4+j]
			out[j] = float32(q&15)*d + m
			out[j+16] = float32(q>>4)*d + m
		}
	}
}

// minMax returns the smallest and largest value.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// quantizeQ4_1 follows the reference: d = (max-min)/15, m = min,
// q = min(15, trunc((x-min)/d + 0.5)).
func quantizeQ4_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[20*b : 20*b+20]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(blk, FP32ToFP16(d))
		put16(blk[2:], FP32ToFP16(lo))
		for j := 0; j < 16; j++ {
			q0 := min(15, truncInt(float32((x[j]-lo)*id)+0.5))
			q1 := min(15, truncInt(float32((x[j+16]-lo)*id)+0.5))
			blk[4+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func vecDotQ4_1Q8_1(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[20*b:20*b+20], x[36*b:36*b+36]
		var s int32
		for j := 0; j < 16; j++ {
			q := wb[4+j]
			s += int32(q&15)*int32(int8(xb[4+j])) + int32(q>>4)*int32(int8(xb[20+j]))
		}
		sum += (f16(wb)*f16(xb))*float32(s) + f16(wb[2:])*f16(xb[2:])
	}
	return sum
}
