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
	if f16SIMD && len(dst) > 0 {
		FP16ToFP32Row(dst, leUint16s(src[:2*len(dst)]))
		return
	}
	for i := range dst {
		dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func quantizeF16(dst []byte, src []float32) {
	if f16SIMD && len(src) > 0 {
		FP32ToFP16Row(leUint16s(dst[:2*len(src)]), src)
		return
	}
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
	i := n &^ 7
	if f16SIMD {
		f16LanesSIMD(&acc, w[:2*i], x[:2*i])
	} else {
		f16LanesGeneric(&acc, w[:2*i], x[:2*i])
	}
	for ; i < n; i++ {
		acc[0] += FP16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * FP16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
	}
	return reduce8(&acc)
}

// f16SIMD is set at start-up where f16LanesSIMD runs SIMD code (AVX2 and
// F16C: the same operations in the same order as f16LanesGeneric, so the
// same bits). Direct calls, not a function value, keep acc on the stack.
var f16SIMD bool

// f16LanesGeneric adds w[8k+l]·x[8k+l] to acc[l] for every k (len(w) =
// len(x), a multiple of 16 bytes), each product rounded before it is added.
func f16LanesGeneric(acc *[8]float32, w, x []byte) {
	for i := 0; i+16 <= len(w); i += 16 {
		wb, xb := w[i:i+16], x[i:i+16]
		for l := 0; l < 8; l++ {
			acc[l] += FP16ToFP32(binary.LittleEndian.Uint16(wb[2*l:])) * FP16ToFP32(binary.LittleEndian.Uint16(xb[2*l:]))
		}
	}
}
