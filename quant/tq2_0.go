package quant

import "github.com/shimmer-llm/shimmer/gguf"

// TQ2_0: ternary super-blocks of 256 values: 64 bytes of 2-bit q then f16
// d; x = d·(q-1), q ∈ {0,1,2}. Each 128 values use 32 bytes, byte m holding
// elements m, m+32, m+64, m+96 at bit pairs 0..3. 66 bytes per
// super-block.
var tq2_0Traits = Traits{
	Type: gguf.TypeTQ2_0, BlockSize: 256, BlockBytes: 66,
	Dequantize: dequantizeTQ2_0, Quantize: quantizeTQ2_0,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotTQ2_0Q8_K,
}

func dequantizeTQ2_0(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[66*b : 66*b+66]
		d := f16(blk[64:])
		unpack2(q[:128], blk[:32])
		unpack2(q[128:], blk[32:64])
		out := dst[256*b : 256*b+256]
		for j := range out {
			out[j] = float32(q[j]-1) * d
		}
	}
}

// quantizeTQ2_0 follows the reference: d = max|x|, q = lroundf(x/d) + 1.
func quantizeTQ2_0(dst []byte, src []float32) {
	var L [256]uint8
	for b := 0; b < len(src)/256; b++ {
		x := src[256*b : 256*b+256]
		blk := dst[66*b : 66*b+66]
		d := absMax(x)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(blk[64:], FP32ToFP16(d))
		for j, v := range x {
			L[j] = uint8(truncInt(roundAway(v*id))+1) & 3
		}
		pack2(blk[:32], L[:128])
		pack2(blk[32:64], L[128:])
	}
}

func vecDotTQ2_0Q8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[66*b:66*b+66], x[292*b:292*b+292]
		unpack2(q[:128], wb[:32])
		unpack2(q[128:], wb[32:64])
		q8 := xb[4:260]
		var s int32
		for j := 0; j < 256; j++ {
			s += int32(q[j]-1) * int32(int8(q8[j]))
		}
		sum += float32(s) * (q8kScale(xb) * f16(wb[64:]))
	}
	return sum
}
