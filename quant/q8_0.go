package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q8_0: blocks of 32 values, an f16 scale d then 32 int8 q; x = d·q.
// 34 bytes per block.
var q8_0Traits = Traits{
	Type: gguf.TypeQ8_0, BlockSize: 32, BlockBytes: 34,
	Dequantize: dequantizeQ8_0, Quantize: quantizeQ8_0,
	VecDotType: gguf.TypeQ8_0, VecDot: vecDotQ8_0Q8_0,
}

func dequantizeQ8_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[34*b : 34*b+34]
		d := FP16ToFP32(binary.LittleEndian.Uint16(blk))
		out := dst[32*b : 32*b+32]
		for j := range out {
			out[j] = d * float32(int8(blk[2+j]))
		}
	}
}

// quantizeQ8_0 quantizes weights and activations alike, as the reference
// does: d = max|x|/127, q = round-half-away(x·(1/d)). (llama.cpp's x86 SIMD
// path computes 127/max|x| instead; the reference logits were made with
// 1/d, and the two differ by up to 0.1 in the logits.)
func quantizeQ8_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[34*b : 34*b+34]
		amax := absMax(x)
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(blk, FP32ToFP16(d))
		for j, v := range x {
			blk[2+j] = byte(int8(roundAway(v * id)))
		}
	}
}

func vecDotQ8_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[34*b:34*b+34], x[34*b:34*b+34]
		var s int32
		for j := 2; j < 34; j++ {
			s += int32(int8(wb[j])) * int32(int8(xb[j]))
		}
		sum += float32(s) * (FP16ToFP32(binary.LittleEndian.Uint16(wb)) * FP16ToFP32(binary.LittleEndian.Uint16(xb)))
	}
	return sum
}
