package quant

import (
	"encoding/binary"
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

var bf16Traits = Traits{
	Type: gguf.TypeBF16, BlockSize: 1, BlockBytes: 2,
	Dequantize: dequantizeBF16, Quantize: quantizeBF16,
	VecDotType: gguf.TypeF32, VecDot: vecDotBF16F32,
}

func dequantizeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeBF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}

// vecDotBF16F32 multiplies a BF16 weight row with an F32 activation row in
// float32, summing in eight lanes . Activations stay F32
// rather than being rounded to BF16 as llama.cpp does: its BF16 reference
// logits cannot be reproduced that way (0.03–0.04 apart), while F32
// activations match the -deqf32 reference to ~4e-6.
func vecDotBF16F32(n int, w, x []byte) float32 {
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		wb, xb := w[2*i:2*i+16], x[4*i:4*i+32]
		for l := 0; l < 8; l++ {
			acc[l] += BF16ToFP32(binary.LittleEndian.Uint16(wb[2*l:])) * math.Float32frombits(binary.LittleEndian.Uint32(xb[4*l:]))
		}
	}
	for ; i < n; i++ {
		acc[0] += BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
	}
	return reduce8(&acc)
}
