package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q4_0: blocks of 32 values, an f16 scale d then 16 bytes of 4-bit q; byte j
// holds element j in its low nibble and element j+16 in its high nibble;
// x = d·(q-8). 18 bytes per block.
var q4_0Traits = Traits{
	Type: gguf.TypeQ4_0, BlockSize: 32, BlockBytes: 18,
	Dequantize: dequantizeQ4_0, Quantize: quantizeQ4_0,
	VecDotType: gguf.TypeQ8_0, VecDot: vecDotQ4_0Q8_0,
}

func dequantizeQ4_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[18*b : 18*b+18]
		d := FP16ToFP32(binary.LittleEndian.Uint16(blk))
		out := dst[32*b : 32*b+32]
		for j := 0; j < 16; j++ {
			q := blk[2+j]
			out[j] = d * float32(int32(q&15)-8)
			out[j+16] = d * float32(int32(q>>4)-8)
		}
	}
}

// quantizeQ4_0 follows the reference: d = m/-8 where m is the value of
// largest magnitude (sign kept), q = min(15, trunc(x/d + 8.5)).
func quantizeQ4_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[18*b : 18*b+18]
		var amax, m float32
		for _, v := range x {
			a := v
			if a < 0 {
				a = -a
			}
			if a > amax {
				amax, m = a, v
			}
		}
		d := m / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(blk, FP32ToFP16(d))
		for j := 0; j < 16; j++ {
			q0 := min(15, truncInt(float32(x[j]*id)+8.5))
			q1 := min(15, truncInt(float32(x[j+16]*id)+8.5))
			blk[2+j] = byte(q0) | byte(q1)<<4
		}
	}
}

func vecDotQ4_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[18*b:18*b+18], x[34*b:34*b+34]
		var s int32
		for j := 0; j < 16; j++ {
			q := wb[2+j]
			s += (int32(q&15)-8)*int32(int8(xb[2+j])) + (int32(q>>4)-8)*int32(int8(xb[18+j]))
		}
		sum += float32(s) * (FP16ToFP32(binary.LittleEndian.Uint16(wb)) * FP16ToFP32(binary.LittleEndian.Uint16(xb)))
	}
	return sum
}
