package quant

import (
	"encoding/binary"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q5_0: blocks of 32 values: an f16 scale d, 4 bytes qh holding bit 4 of
// every q (bit j for element j), then 16 bytes of low nibbles laid out as
// Q4_0; x = d·(q-16). 22 bytes per block.
var q5_0Traits = Traits{
	Type: gguf.TypeQ5_0, BlockSize: 32, BlockBytes: 22,
	Dequantize: dequantizeQ5_0, Quantize: quantizeQ5_0,
	VecDotType: gguf.TypeQ8_0, VecDot: vecDotQ5_0Q8_0,
}

// unpack5 decodes the 32 five-bit values of a Q5 block (qh, then 16 bytes
// of nibbles) into q.
func unpack5(q *[32]int32, qh uint32, qs []byte) {
	for j := 0; j < 16; j++ {
		q[j] = int32(qs[j]&15) | int32(qh>>j&1)<<4
		q[j+16] = int32(qs[j]>>4) | int32(qh>>(j+16)&1)<<4
	}
}

func dequantizeQ5_0(dst []float32, src []byte) {
	var q [32]int32
	for b := 0; b < len(dst)/32; b++ {
		blk := src[22*b : 22*b+22]
		d := f16(blk)
		unpack5(&q, binary.LittleEndian.Uint32(blk[2:]), blk[6:22])
		out := dst[32*b : 32*b+32]
		for j := range out {
			out[j] = float32(q[j]-16) * d
		}
	}
}

// quantizeQ5_0 follows the reference: d = m/-16 where m is the value of
// largest magnitude, q = min(31, trunc(x/d + 16.5)).
func quantizeQ5_0(dst []byte, src []float32) {
	for b := 0; b < len(src)/32; b++ {
		x := src[32*b : 32*b+32]
		blk := dst[22*b : 22*b+22]
		m, _ := signedAbsMax(x)
		d := m / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(blk, FP32ToFP16(d))
		var qh uint32
		for j := 0; j < 16; j++ {
			q0 := min(31, truncInt(float32(x[j]*id)+16.5))
			q1 := min(31, truncInt(float32(x[j+16]*id)+16.5))
			blk[6+j] = byte(q0&15) | byte(q1&15)<<4
			qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(blk[2:], qh)
	}
}

func vecDotQ5_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	var q [32]int32
	for b := 0; b < n/32; b++ {
		wb, xb := w[22*b:22*b+22], x[34*b:34*b+34]
		unpack5(&q, binary.LittleEndian.Uint32(wb[2:]), wb[6:22])
		var s int32
		for j := 0; j < 32; j++ {
			s += (q[j] - 16) * int32(int8(xb[2+j]))
		}
		sum += (f16(wb) * f16(xb)) * float32(s)
	}
	return sum
}
