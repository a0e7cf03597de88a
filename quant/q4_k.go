package quant

import "github.com/shimmer-llm/shimmer/gguf"

// Q4_K: super-blocks of 256 values in 8 blocks of 32: f16 d, f16 dmin, 12
// bytes of 6-bit scales and mins (see scaleMinK4), then 128 bytes of 4-bit
// q: each 64 values use 32 bytes, the first 32 in the low nibbles, the
// next 32 in the high nibbles; x = d·sc·q - dmin·m. 144 bytes per
// super-block.
var q4_kTraits = Traits{
	Type: gguf.TypeQ4_K, BlockSize: 256, BlockBytes: 144,
	Dequantize: dequantizeQ4_K, Quantize: quantizeQ4_K,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotQ4_KQ8_K,
}

// unpack4K decodes the 256 4-bit values of a Q4_K/Q5_K block.
func unpack4K(q []int8, qs []byte) {
	for k := 0; k < 4; k++ {
		for l := 0; l < 32; l++ {
			q[64*k+l] = int8(qs[32*k+l] & 15)
			q[64*k+32+l] = int8(qs[32*k+l] >> 4)
		}
	}
}

// pack4K is the inverse of unpack4K.
func pack4K(qs []byte, L []uint8) {
	for k := 0; k < 4; k++ {
		for l := 0; l < 32; l++ {
			qs[32*k+l] = L[64*k+l]&15 | (L[64*k+32+l]&15)<<4
		}
	}
}

func dequantizeQ4_K(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[144*b : 144*b+144]
		dequantK(dst[256*b:256*b+256], blk, &q, blk[16:144], nil)
	}
}

// dequantK decodes a Q4_K or Q5_K block whose low bits are qs and whose
// fifth bits (Q5_K) are qh.
func dequantK(out []float32, blk []byte, q *[256]int8, qs, qh []byte) {
	d, dmin := f16(blk), f16(blk[2:])
	unpack4K(q[:], qs)
	if qh != nil {
		addHighBitK(q, qh)
	}
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, blk[4:16])
		dl, ml := d*float32(sc), dmin*float32(m)
		for l := 32 * j; l < 32*j+32; l++ {
			out[l] = dl*float32(q[l]) - ml
		}
	}
}

// quantizeKBlocks runs the scale-and-min search shared by Q4_K and Q5_K
// (nmax 15 or 31) on one super-block: per 32-block makeQKX2Quants with
// weights sqrt(mean x²)+|x|, 6-bit scales and mins against the maxima, then
// every value re-rounded with the stored ones. It fills the 4-byte header
// and 12 scale bytes of blk and returns the levels in L.
func quantizeKBlocks(blk []byte, x []float32, L *[256]uint8, nmax int, rmin, rdelta float32, nstep int) {
	var Laux [32]uint8
	var weights [32]float32
	var scales, mins [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xb := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xb {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xb {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(nmax, xb, weights[:], L[32*j:32*j+32], Laux[:], rmin, rdelta, nstep, false)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := 0; j < 8; j++ {
		ls[j] = min(63, uint8(nearestInt(invScale*scales[j])))
		lm[j] = min(63, uint8(nearestInt(invMin*mins[j])))
	}
	packScaleMinK4(blk[4:16], &ls, &lm)
	put16(blk, FP32ToFP16(maxScale/63))
	put16(blk[2:], FP32ToFP16(maxMin/63))
	dAll, mAll := f16(blk), f16(blk[2:])
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, blk[4:16])
		d := dAll * float32(sc)
		if d == 0 {
			continue
		}
		dm := mAll * float32(m)
		for ii := 0; ii < 32; ii++ {
			L[32*j+ii] = uint8(clampInt(nearestInt((x[32*j+ii]+dm)/d), 0, nmax))
		}
	}
}

// quantizeQ4_K follows quantize_row_q4_K_ref.
func quantizeQ4_K(dst []byte, src []float32) {
	var L [256]uint8
	for b := 0; b < len(src)/256; b++ {
		blk := dst[144*b : 144*b+144]
		quantizeKBlocks(blk, src[256*b:256*b+256], &L, 15, -1, 0.1, 20)
		pack4K(blk[16:144], L[:])
	}
}

// dotK is the integer part of a Q4_K/Q5_K dot product with a Q8_K block:
// Σ sc_j·(q·y)_j and Σ m_j·bsum_j.
func dotK(q *[256]int8, scales []byte, xb []byte) (isum, summs int32) {
	q8 := xb[4:260]
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, scales)
		summs += int32(m) * (q8kBsum(xb, 2*j) + q8kBsum(xb, 2*j+1))
		var s int32
		for l := 32 * j; l < 32*j+32; l++ {
			s += int32(q[l]) * int32(int8(q8[l]))
		}
		isum += int32(sc) * s
	}
	return isum, summs
}

func vecDotQ4_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[144*b:144*b+144], x[292*b:292*b+292]
		unpack4K(q[:], wb[16:144])
		isum, summs := dotK(&q, wb[4:16], xb)
		dy := q8kScale(xb)
		sum += (f16(wb)*dy)*float32(isum) - (f16(wb[2:])*dy)*float32(summs)
	}
	return sum
}
