package quant

import (
	"encoding/binary"
	"math"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Q8_K: super-blocks of 256 values: a float32 scale d, 256 int8 q, then 16
// int16 bsums (the sum of each group of 16 q); x = d·q. 292 bytes per
// super-block. It is the activation type of the K, IQ and TQ types; bsums
// let them apply per-group offsets without touching q.
var q8_kTraits = Traits{
	Type: gguf.TypeQ8_K, BlockSize: 256, BlockBytes: 292,
	Dequantize: dequantizeQ8_K, Quantize: quantizeQ8_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ8_KQ8_K,
}

// q8kScale reads the float32 scale of a Q8_K block.
func q8kScale(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// q8kBsum reads bsums[j] of a Q8_K block.
func q8kBsum(b []byte, j int) int32 { return int32(int16(le16(b[260+2*j:]))) }

func dequantizeQ8_K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[292*b : 292*b+292]
		d := q8kScale(blk)
		out := dst[256*b : 256*b+256]
		for j := range out {
			out[j] = d * float32(int8(blk[4+j]))
		}
	}
}

// quantizeQ8_K follows the reference (quantize_row_q8_K_ref, which the
// CPU backend runs for activations): with m the value of largest
// magnitude, iscale = -127/m, q = min(127, nearest(iscale·x)) rounding
// ties to even, d = 1/iscale kept as float32.
func quantizeQ8_K(dst []byte, src []float32) {
	for b := 0; b < len(src)/256; b++ {
		x := src[256*b : 256*b+256]
		blk := dst[292*b : 292*b+292]
		m, amax := signedAbsMax(x)
		if amax == 0 {
			clear(blk)
			continue
		}
		iscale := -127 / m
		for j, v := range x {
			blk[4+j] = byte(int8(min(127, max(-128, nearestInt(iscale*v)))))
		}
		for j := 0; j < 16; j++ {
			var s int
			for _, q := range blk[4+16*j : 4+16*j+16] {
				s += int(int8(q))
			}
			put16(blk[260+2*j:], uint16(int16(s)))
		}
		binary.LittleEndian.PutUint32(blk, math.Float32bits(1/iscale))
	}
}

// vecDotQ8_KQ8_K exists so that a Q8_K tensor is usable as weights; the
// reference engine never stores weights as Q8_K.
func vecDotQ8_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/256; b++ {
		wb, xb := w[292*b:292*b+292], x[292*b:292*b+292]
		var s int32
		for j := 4; j < 260; j++ {
			s += int32(int8(wb[j])) * int32(int8(xb[j]))
		}
		sum += float32(s) * (q8kScale(wb) * q8kScale(xb))
	}
	return sum
}
