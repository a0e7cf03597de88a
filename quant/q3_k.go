package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q3_K: super-blocks of 256 values in 16 blocks of 16: 32 bytes hmask
// (bit k of byte l is the high bit of element 32k+l), 64 bytes of low 2
// bits laid out as Q2_K, 12 bytes of 6-bit signed scales (biased by 32),
// then f16 d; x = d·(sc-32)·(q-4). 110 bytes per super-block.
var q3_kTraits = Traits{
	Type: gguf.TypeQ3_K, BlockSize: 256, BlockBytes: 110,
	Dequantize: dequantizeQ3_K, Quantize: quantizeQ3_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ3_KQ8_K,
}

// q3kScale returns the biased 6-bit scale of block j (0..15).
func q3kScale(s []byte, j int) int {
	lo := s[j%8] >> (4 * (j / 8)) & 15
	hi := s[8+j%4] >> (2 * (j / 4)) & 3
	return int(lo | hi<<4)
}

// unpackQ3K decodes the 256 values q-4 of a block.
func unpackQ3K(q *[256]int8, blk []byte) {
	unpack2(q[:128], blk[32:64])
	unpack2(q[128:], blk[64:96])
	for e := 0; e < 256; e++ {
		if blk[e%32]>>(e/32)&1 == 0 {
			q[e] -= 4
		}
	}
}

func dequantizeQ3_K(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[110*b : 110*b+110]
		d := f16(blk[108:])
		unpackQ3K(&q, blk)
		out := dst[256*b : 256*b+256]
		for j := 0; j < 16; j++ {
			dl := d * float32(q3kScale(blk[96:108], j)-32)
			for l := 16 * j; l < 16*j+16; l++ {
				out[l] = dl * float32(q[l])
			}
		}
	}
}

// quantizeQ3_K follows quantize_row_q3_K_ref: a scale per 16-block from
// makeQ3Quants, the scales quantized to 6 bits against the one of largest
// magnitude, then every value re-rounded with the stored scales.
func quantizeQ3_K(dst []byte, src []float32) {
	var L [256]int8
	var scales [16]float32
	for b := 0; b < len(src)/256; b++ {
		x := src[256*b : 256*b+256]
		blk := dst[110*b : 110*b+110]
		var maxScale, amax float32
		for j := 0; j < 16; j++ {
			scales[j] = makeQ3Quants(4, x[16*j:16*j+16], L[16*j:16*j+16])
			if a := abs32(scales[j]); a > amax {
				amax, maxScale = a, scales[j]
			}
		}
		sb := blk[96:108]
		clear(sb)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < 16; j++ {
				l := clampInt(nearestInt(iscale*scales[j]), -32, 31) + 32
				if j < 8 {
					sb[j] = uint8(l & 15)
				} else {
					sb[j-8] |= uint8(l&15) << 4
				}
				sb[j%4+8] |= uint8(l>>4) << (2 * (j / 4))
			}
			put16(blk[108:], FP32ToFP16(1/iscale))
		} else {
			put16(blk[108:], 0)
		}
		dAll := f16(blk[108:])
		for j := 0; j < 16; j++ {
			d := dAll * float32(q3kScale(sb, j)-32)
			if d == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = int8(clampInt(nearestInt(x[16*j+ii]/d), -4, 3) + 4)
			}
		}
		hm := blk[:32]
		clear(hm)
		var low [256]uint8
		for e := 0; e < 256; e++ {
			l := uint8(L[e])
			if l > 3 {
				hm[e%32] |= 1 << (e / 32)
				l -= 4
			}
			low[e] = l
		}
		pack2(blk[32:64], low[:128])
		pack2(blk[64:96], low[128:])
	}
}

func vecDotQ3_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[110*b:110*b+110], x[292*b:292*b+292]
		unpackQ3K(&q, wb)
		q8 := xb[4:260]
		var isum int32
		for j := 0; j < 16; j++ {
			var s int32
			for l := 16 * j; l < 16*j+16; l++ {
				s += int32(q[l]) * int32(int8(q8[l]))
			}
			isum += int32(q3kScale(wb[96:108], j)-32) * s
		}
		sum += (f16(wb[108:]) * q8kScale(xb)) * float32(isum)
	}
	return sum
}
