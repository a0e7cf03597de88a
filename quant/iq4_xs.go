package quant

import "github.com/shimmer-llm/shimmer/gguf"

// IQ4_XS: super-blocks of 256 values: an f16 scale d, a uint16 scales_h
// (2 high bits of each of the 8 block scales), 4 bytes scales_l (their low
// nibbles), then 8 blocks of 32 values as 4-bit indices into iq4Values
// laid out as Q4_0; x = d·(ls-32)·iq4Values[q]. 136 bytes per super-block.
var iq4_xsTraits = Traits{
	Type: gguf.TypeIQ4_XS, BlockSize: 256, BlockBytes: 136,
	Dequantize: dequantizeIQ4_XS, Quantize: quantizeIQ4_XS,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotIQ4_XSQ8_K,
}

// iq4xsScale returns the 6-bit scale of block ib (0..7).
func iq4xsScale(blk []byte, ib int) int {
	h := le16(blk[2:])
	return int(blk[4+ib/2]>>(4*(ib%2))&15) | int(h>>(2*ib)&3)<<4
}

func dequantizeIQ4_XS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[136*b : 136*b+136]
		d := f16(blk)
		for ib := 0; ib < 8; ib++ {
			dl := d * float32(iq4xsScale(blk, ib)-32)
			qs := blk[8+16*ib : 8+16*ib+16]
			out := dst[256*b+32*ib : 256*b+32*ib+32]
			for j := 0; j < 16; j++ {
				out[j] = dl * float32(iq4Values[qs[j]&15])
				out[j+16] = dl * float32(iq4Values[qs[j]>>4])
			}
		}
	}
}

// quantizeIQ4_XS follows the reference's quantize_iq4_xs without
// importance weights.
func quantizeIQ4_XS(dst []byte, src []float32) {
	var L [256]uint8
	var ls [8]uint8
	for b := 0; b < len(src)/256; b++ {
		blk := dst[136*b : 136*b+136]
		put16(blk, iq4Block(src[256*b:256*b+256], L[:], ls[:]))
		var h uint16
		for ib := 0; ib < 8; ib++ {
			h |= uint16(ls[ib]>>4) << (2 * ib)
		}
		put16(blk[2:], h)
		for i := 0; i < 4; i++ {
			blk[4+i] = ls[2*i]&15 | (ls[2*i+1]&15)<<4
		}
		packNibbles(blk[8:], L[:])
	}
}

func vecDotIQ4_XSQ8_K(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/256; b++ {
		wb, xb := w[136*b:136*b+136], x[292*b:292*b+292]
		d4d8 := f16(wb) * q8kScale(xb)
		q8 := xb[4:260]
		for ib := 0; ib < 8; ib++ {
			qs := wb[8+16*ib : 8+16*ib+16]
			y := q8[32*ib : 32*ib+32]
			var s int32
			for j := 0; j < 16; j++ {
				s += int32(iq4Values[qs[j]&15])*int32(int8(y[j])) + int32(iq4Values[qs[j]>>4])*int32(int8(y[j+16]))
			}
			sum += float32(d4d8*float32(iq4xsScale(wb, ib)-32)) * float32(s)
		}
	}
	return sum
}
