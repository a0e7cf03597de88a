package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

var bf16Traits = Traits{
	Type: gguf.TypeBF16, BlockSize: 1, BlockBytes: 2,
	Dequantize: dequantizeBF16, Quantize: quantizeBF16,
	VecDotType: gguf.TypeBF16, VecDot: vecDotBF16,
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

// vecDotBF16 multiplies two BF16 rows in float32, summing in eight lanes
// (each product of two BF16 values is exact in float32). Activations are
// rounded to BF16 first, as llama.cpp does (its vec_dot_type for BF16).
// This is llama.cpp's result on CPUs without AVX512_BF16; with that
// extension its VDPBF16PS kernel sums the products in another order, which
// moves the reference logits by up to ~4e-2 (see model/archs tests).
func vecDotBF16(n int, w, x []byte) float32 {
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		wb, xb := w[2*i:2*i+16], x[2*i:2*i+16]
		for l := 0; l < 8; l++ {
			acc[l] += BF16ToFP32(binary.LittleEndian.Uint16(wb[2*l:])) * BF16ToFP32(binary.LittleEndian.Uint16(xb[2*l:]))
		}
	}
	for ; i < n; i++ {
		acc[0] += BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
	}
	return reduce8(&acc)
}
