package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q5_K: super-blocks of 256 values in 8 blocks of 32: f16 d, f16 dmin, 12
// bytes of 6-bit scales and mins (as Q4_K), 32 bytes qh (bit 2k and 2k+1
// of byte l are the fifth bits of elements 64k+l and 64k+32+l), then 128
// bytes of low nibbles laid out as Q4_K; x = d·sc·q - dmin·m. 176 bytes
// per super-block.
var q5_kTraits = Traits{
	Type: gguf.TypeQ5_K, BlockSize: 256, BlockBytes: 176,
	Dequantize: dequantizeQ5_K, Quantize: quantizeQ5_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ5_KQ8_K,
}

// addHighBitK adds the fifth bits qh to decoded Q5_K nibbles.
func addHighBitK(q *[256]int8, qh []byte) {
	for e := 0; e < 256; e++ {
		q[e] += int8(qh[e%32]>>(e/32)&1) << 4
	}
}

func dequantizeQ5_K(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[176*b : 176*b+176]
		dequantK(dst[256*b:256*b+256], blk, &q, blk[48:176], blk[16:48])
	}
}

// quantizeQ5_K follows quantize_row_q5_K_ref.
func quantizeQ5_K(dst []byte, src []float32) {
	var L [256]uint8
	for b := 0; b < len(src)/256; b++ {
		blk := dst[176*b : 176*b+176]
		quantizeKBlocks(blk, src[256*b:256*b+256], &L, 31, -0.5, 0.1, 15)
		qh := blk[16:48]
		clear(qh)
		for e := 0; e < 256; e++ {
			if L[e] > 15 {
				qh[e%32] |= 1 << (e / 32)
			}
		}
		pack4K(blk[48:176], L[:])
	}
}

func vecDotQ5_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[176*b:176*b+176], x[292*b:292*b+292]
		unpack4K(q[:], wb[48:176])
		addHighBitK(&q, wb[16:48])
		isum, summs := dotK(&q, wb[4:16], xb)
		dy := q8kScale(xb)
		sum += (f16(wb)*dy)*float32(isum) - (f16(wb[2:])*dy)*float32(summs)
	}
	return sum
}
