package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q5_1: blocks of 32 values: an f16 scale d, an f16 offset m, 4 bytes qh
// (bit 4 of every q), then 16 bytes of low nibbles; x = d·q + m. 24 bytes
// per block.
var q5_1Traits = Traits{
	Type: gguf.TypeQ5_1, BlockSize: 32, BlockBytes: 24,
	Dequantize: dequantizeQ5_1, Quantize: quantizeQ5_1,
	VecDotType: gguf.TypeQ8_1, VecDot: vecDotQ5_1Q8_1,
}

func dequantizeQ5_1(dst []float32, src []byte) {
	var q [32]int32
	for b := 0; b < len(dst)/32; b++ {
		blk := src[24*b : 24*b+24]
		d, m := f16(blk), f16(blk[2:])
		unpack5(&q, binary.LittleEndian.Uint32(blk[4:]), blk[8:24])
		out := dst[32*b : 32*b+32]
		for j := range out {
			out[j] = float32(q[j])*d + m
		}
	}
}

// quantizeQ5_1 follows the reference: d = (max-min)/31, m = min,
// q = trunc((x-min)/d + 0.5).
func quantizeQ5_1(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[24*b : 24*b+24]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(blk, FP32ToFP16(d))
		put16(blk[2:], FP32ToFP16(lo))
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := clampInt(truncInt(float32((x[j]-lo)*id)+0.5), 0, 31)
			q1 := clampInt(truncInt(float32((x[j+16]-lo)*id)+0.5), 0, 31)
			blk[8+j] = byte(q0&15) | byte(q1&15)<<4
			qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(blk[4:], qh)
	}
}

func vecDotQ5_1Q8_1(n int, w, x []byte) float32 {
	var sum float32
	var q [32]int32
	for b := 0; b < n/32; b++ {
		wb, xb := w[24*b:24*b+24], x[36*b:36*b+36]
		unpack5(&q, binary.LittleEndian.Uint32(wb[4:]), wb[8:24])
		var s int32
		for j := 0; j < 32; j++ {
			s += q[j] * int32(int8(xb[4+j]))
		}
		sum += (f16(wb)*f16(xb))*float32(s) + f16(wb[2:])*f16(xb[2:])
	}
	return sum
}
