package quant

import (
	"encoding/binary"
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

var f32Traits = Traits{
	Type: gguf.TypeF32, BlockSize: 1, BlockBytes: 4,
	Dequantize: dequantizeF32, Quantize: quantizeF32,
	VecDotType: gguf.TypeF32, VecDot: vecDotF32,
}

func dequantizeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func quantizeF32(dst []byte, src []float32) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

// vecDotF32 sums in eight lanes, the way SIMD code does, then adds the lanes.
func vecDotF32(n int, w, x []byte) float32 {
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		wb, xb := w[4*i:4*i+32], x[4*i:4*i+32]
		for l := 0; l < 8; l++ {
			acc[l] += math.Float32frombits(binary.LittleEndian.Uint32(wb[4*l:])) * math.Float32frombits(binary.LittleEndian.Uint32(xb[4*l:]))
		}
	}
	for ; i < n; i++ {
		acc[0] += math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
	}
	return reduce8(&acc)
}

func reduce8(a *[8]float32) float32 {
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}
