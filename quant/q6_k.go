package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q6_K: super-blocks of 256 values in 16 blocks of 16: 128 bytes ql (low
// nibbles), 64 bytes qh (high 2 bits), 16 int8 scales, then f16 d;
// x = d·sc·(q-32). In each half of 128 values, byte l of its 64 ql holds
// elements l (low nibble) and l+64 (high), byte l+32 holds l+32 and l+96,
// and byte l of its 32 qh holds the high bits of l, l+32, l+64, l+96.
// 210 bytes per super-block.
var q6_kTraits = Traits{
	Type: gguf.TypeQ6_K, BlockSize: 256, BlockBytes: 210,
	Dequantize: dequantizeQ6_K, Quantize: quantizeQ6_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ6_KQ8_K,
}

// unpackQ6K decodes the 256 values q-32 of a block.
func unpackQ6K(q *[256]int8, blk []byte) {
	for h := 0; h < 2; h++ {
		ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
		o := q[128*h : 128*h+128]
		for l := 0; l < 32; l++ {
			o[l] = int8(ql[l]&15|(qh[l]&3)<<4) - 32
			o[l+32] = int8(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
			o[l+64] = int8(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			o[l+96] = int8(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
		}
	}
}

func dequantizeQ6_K(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[210*b : 210*b+210]
		d := f16(blk[208:])
		unpackQ6K(&q, blk)
		out := dst[256*b : 256*b+256]
		for j := 0; j < 16; j++ {
			dl := d * float32(int8(blk[192+j]))
			for l := 16 * j; l < 16*j+16; l++ {
				out[l] = dl * float32(q[l])
			}
		}
	}
}

// quantizeQ6_K follows quantize_row_q6_K_ref: a scale per 16-block from
// makeQXQuants (nmax 32), the scales quantized to int8 against the one of
// largest magnitude (mapped to -128), then every value re-rounded with the
// stored scales.
func quantizeQ6_K(dst []byte, src []float32) {
	var L [256]int8
	var scales [16]float32
	for b := 0; b < len(src)/256; b++ {
		x := src[256*b : 256*b+256]
		blk := dst[210*b : 210*b+210]
		var maxScale, maxAbs float32
		for ib := 0; ib < 16; ib++ {
			scales[ib] = makeQXQuants(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
			if a := abs32(scales[ib]); a > maxAbs {
				maxAbs, maxScale = a, scales[ib]
			}
		}
		if maxAbs < groupMaxEps {
			clear(blk)
			continue
		}
		iscale := -128 / maxScale
		put16(blk[208:], FP32ToFP16(1/iscale))
		for ib := 0; ib < 16; ib++ {
			blk[192+ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		dAll := f16(blk[208:])
		for j := 0; j < 16; j++ {
			d := dAll * float32(int8(blk[192+j]))
			if d == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = int8(clampInt(nearestInt(x[16*j+ii]/d), -32, 31) + 32)
			}
		}
		for h := 0; h < 2; h++ {
			ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
			Lh := L[128*h : 128*h+128]
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := uint8(Lh[l]), uint8(Lh[l+32]), uint8(Lh[l+64]), uint8(Lh[l+96])
				ql[l] = q1&15 | (q3&15)<<4
				ql[l+32] = q2&15 | (q4&15)<<4
				qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}

func vecDotQ6_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[210*b:210*b+210], x[292*b:292*b+292]
		unpackQ6K(&q, wb)
		q8 := xb[4:260]
		var isum int32
		for j := 0; j < 16; j++ {
			var s int32
			for l := 16 * j; l < 16*j+16; l++ {
				s += int32(q[l]) * int32(int8(q8[l]))
			}
			isum += int32(int8(wb[192+j])) * s
		}
		sum += (f16(wb[208:]) * q8kScale(xb)) * float32(isum)
	}
	return sum
}
