package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

var f16Traits = Traits{
	Type: gguf.TypeF16, BlockSize: 1, BlockBytes: 2,
	Dequantize: dequantizeF16, Quantize: quantizeF16,
	VecDotType: gguf.TypeF16, VecDot: vecDotF16,
}

func dequantizeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeF16(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
	}
}

// vecDotF16 multiplies two F16 rows in float32, summing in eight lanes.
// Activations are rounded to F16 first, as llama.cpp does; this matches
// its reference logits exactly where its plain dot product runs (rows whose
// length is not a multiple of 8, such as stories260K's ffn_down) and to
// within ~6e-3 elsewhere.
func vecDotF16(n int, w, x []byte) float32 {
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		wb, xb := w[2*i:2*i+16], x[2*i:2*i+16]
		for l := 0; l < 8; l++ {
			acc[l] += FP16ToFP32(binary.LittleEndian.Uint16(wb[2*l:])) * FP16ToFP32(binary.LittleEndian.Uint16(xb[2*l:]))
		}
	}
	for ; i < n; i++ {
		acc[0] += FP16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * FP16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
	}
	return reduce8(&acc)
}
