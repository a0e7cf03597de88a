package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q2_K: super-blocks of 256 values in 16 blocks of 16: 16 bytes of scales
// (low nibble: scale, high nibble: min, per block), 64 bytes of 2-bit q,
// then f16 d and f16 dmin; x = d·sc·q - dmin·m. In each half of 128 values
// byte l of its 32 holds elements l, l+32, l+64, l+96 at bit pairs 0..3.
// 84 bytes per super-block.
var q2_kTraits = Traits{
	Type: gguf.TypeQ2_K, BlockSize: 256, BlockBytes: 84,
	Dequantize: dequantizeQ2_K, Quantize: quantizeQ2_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ2_KQ8_K,
}

// unpack2 decodes the 2-bit values of one 128-value half (32 bytes) into q.
func unpack2(q []int8, qs []byte) {
	for j := 0; j < 4; j++ {
		for l := 0; l < 32; l++ {
			q[32*j+l] = int8(qs[l] >> (2 * j) & 3)
		}
	}
}

// pack2 is the inverse of unpack2 for 128 values.
func pack2(qs []byte, L []uint8) {
	for l := 0; l < 32; l++ {
		qs[l] = L[l] | L[l+32]<<2 | L[l+64]<<4 | L[l+96]<<6
	}
}

func dequantizeQ2_K(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[84*b : 84*b+84]
		d, dmin := f16(blk[80:]), f16(blk[82:])
		unpack2(q[:128], blk[16:48])
		unpack2(q[128:], blk[48:80])
		out := dst[256*b : 256*b+256]
		for j := 0; j < 16; j++ {
			sc := blk[j]
			dl, ml := d*float32(sc&15), dmin*float32(sc>>4)
			for l := 16 * j; l < 16*j+16; l++ {
				out[l] = dl*float32(q[l]) - ml
			}
		}
	}
}

// quantizeQ2_K follows quantize_row_q2_K_ref: each 16-block gets a scale
// and min from makeQKX2Quants (weights |x|, mean absolute error), both
// quantized to 4 bits against the super-block maxima, then every value is
// re-rounded with the stored scales.
func quantizeQ2_K(dst []byte, src []float32) {
	var L, Laux [256]uint8
	var weights [16]float32
	var scales, mins [16]float32
	const q4scale = 15
	for b := 0; b < len(src)/256; b++ {
		x := src[256*b : 256*b+256]
		blk := dst[84*b : 84*b+84]
		var maxScale, maxMin float32
		for j := 0; j < 16; j++ {
			xb := x[16*j : 16*j+16]
			for l, v := range xb {
				weights[l] = abs32(v)
			}
			scales[j], mins[j] = makeQKX2Quants(3, xb, weights[:], L[16*j:16*j+16], Laux[:16], -0.5, 0.1, 15, true)
			maxScale = max(maxScale, scales[j])
			maxMin = max(maxMin, mins[j])
		}
		sc := blk[:16]
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			put16(blk[80:], FP32ToFP16(maxScale/q4scale))
		} else {
			clear(sc)
			put16(blk[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j])) << 4
			}
			put16(blk[82:], FP32ToFP16(maxMin/q4scale))
		} else {
			put16(blk[82:], 0)
		}
		dAll, mAll := f16(blk[80:]), f16(blk[82:])
		for j := 0; j < 16; j++ {
			d := dAll * float32(sc[j]&15)
			if d == 0 {
				continue
			}
			dm := mAll * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = uint8(clampInt(nearestInt((x[16*j+ii]+dm)/d), 0, 3))
			}
		}
		pack2(blk[16:48], L[:128])
		pack2(blk[48:80], L[128:])
	}
}

func vecDotQ2_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[84*b:84*b+84], x[292*b:292*b+292]
		unpack2(q[:128], wb[16:48])
		unpack2(q[128:], wb[48:80])
		q8 := xb[4:260]
		var summs, isum int32
		for j := 0; j < 16; j++ {
			sc := wb[j]
			summs += q8kBsum(xb, j) * int32(sc>>4)
			var s int32
			for l := 16 * j; l < 16*j+16; l++ {
				s += int32(q[l]) * int32(int8(q8[l]))
			}
			isum += int32(sc&15) * s
		}
		dy := q8kScale(xb)
		sum += (dy*f16(wb[80:]))*float32(isum) - (dy*f16(wb[82:]))*float32(summs)
	}
	return sum
}
