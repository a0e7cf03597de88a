package quant

import "github.com/shimmer-llm/shimmer/gguf"

// IQ4_NL: blocks of 32 values: an f16 scale d then 16 bytes of 4-bit
// indices (laid out as Q4_0) into the non-linear table iq4Values;
// x = d·iq4Values[q]. 18 bytes per block.
var iq4_nlTraits = Traits{
	Type: gguf.TypeIQ4_NL, BlockSize: 32, BlockBytes: 18,
	Dequantize: dequantizeIQ4_NL, Quantize: quantizeIQ4_NL,
	VecDotType: gguf.TypeQ8_0, VecDot: vecDotIQ4_NLQ8_0,
}

// iq4Values are the 16 levels of IQ4_NL and IQ4_XS (a constant of the
// format).
var iq4Values = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

func dequantizeIQ4_NL(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[18*b : 18*b+18]
		d := f16(blk)
		out := dst[32*b : 32*b+32]
		for j := 0; j < 16; j++ {
			q := blk[2+j]
			out[j] = d * float32(iq4Values[q&15])
			out[j+16] = d * float32(iq4Values[q>>4])
		}
	}
}

// bestIndexIQ4 returns the index of the level nearest to x (the upper one
// at a midpoint).
func bestIndexIQ4(x float32) int {
	v := &iq4Values
	if x <= float32(v[0]) {
		return 0
	}
	if x >= float32(v[15]) {
		return 15
	}
	lo, hi := 0, 15
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if x < float32(v[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if x-float32(v[hi-1]) < float32(v[hi])-x {
		return hi - 1
	}
	return hi
}

// iq4Block is the shared search of IQ4_NL and IQ4_XS, as the reference's
// quantize_row_iq4_nl_impl without importance weights (weights x²) and
// with 7 tries either side of the first scale. x holds one super-block
// (32 values for IQ4_NL, 256 for IQ4_XS); L receives the level indices.
// It returns the f16 scale and, for super-blocks of several 32-blocks, the
// 6-bit block scales (biased by 32).
func iq4Block(x []float32, L []uint8, ls []uint8) uint16 {
	const ntry = 7
	nb := len(x) / 32
	var scales [8]float32
	var weight [32]float32
	var maxScale, amaxScale float32
	for ib := 0; ib < nb; ib++ {
		xb := x[32*ib : 32*ib+32]
		Lb := L[32*ib : 32*ib+32]
		for j, v := range xb {
			weight[j] = v * v
		}
		mx, amax := signedAbsMax(xb)
		if amax < groupMaxEps {
			scales[ib] = 0
			clear(Lb)
			continue
		}
		d := -mx / float32(iq4Values[0])
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range xb {
			l := bestIndexIQ4(float32(id * v))
			Lb[j] = uint8(l)
			q := float32(iq4Values[l])
			sumqx += float32(float32(weight[j]*q) * v)
			sumq2 += float32(float32(weight[j]*q) * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := float32(d * sumqx)
		for itry := -ntry; itry <= ntry; itry++ {
			id = float32(itry+int(iq4Values[0])) / mx
			sumqx, sumq2 = 0, 0
			for j, v := range xb {
				q := float32(iq4Values[bestIndexIQ4(float32(id*v))])
				sumqx += float32(float32(weight[j]*q) * v)
				sumq2 += float32(float32(weight[j]*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = float32(d * sumqx)
			}
		}
		scales[ib] = d
		if a := abs32(d); a > amaxScale {
			amaxScale, maxScale = a, d
		}
	}
	if nb == 1 {
		h := FP32ToFP16(scales[0])
		var id float32
		if scales[0] != 0 {
			id = 1 / scales[0]
		}
		for j, v := range x {
			L[j] = uint8(bestIndexIQ4(float32(id * v)))
		}
		return h
	}
	d := -maxScale / 32
	h := FP32ToFP16(d)
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for ib := 0; ib < nb; ib++ {
		l := clampInt(nearestInt(float32(id*scales[ib])), -32, 31)
		dl := d * float32(l)
		var idl float32
		if dl != 0 {
			idl = 1 / dl
		}
		for j, v := range x[32*ib : 32*ib+32] {
			L[32*ib+j] = uint8(bestIndexIQ4(float32(idl * v)))
		}
		ls[ib] = uint8(l + 32)
	}
	return h
}

// packNibbles stores 32-blocks of 4-bit values as Q4_0 does.
func packNibbles(dst []byte, L []uint8) {
	for i := 0; i < len(L)/32; i++ {
		for j := 0; j < 16; j++ {
			dst[16*i+j] = L[32*i+j] | L[32*i+16+j]<<4
		}
	}
}

// quantizeIQ4_NL follows the reference's quantize_iq4_nl without
// importance weights (what llama-quantize runs).
func quantizeIQ4_NL(dst []byte, src []float32) {
	var L [32]uint8
	for b := 0; b < len(src)/32; b++ {
		blk := dst[18*b : 18*b+18]
		put16(blk, iq4Block(src[32*b:32*b+32], L[:], nil))
		packNibbles(blk[2:], L[:])
	}
}

func vecDotIQ4_NLQ8_0(n int, w, x []byte) float32 {
	var sum float32
	for b := 0; b < n/32; b++ {
		wb, xb := w[18*b:18*b+18], x[34*b:34*b+34]
		var s int32
		for j := 0; j < 16; j++ {
			q := wb[2+j]
			s += int32(iq4Values[q&15])*int32(int8(xb[2+j])) + int32(iq4Values[q>>4])*int32(int8(xb[18+j]))
		}
		sum += (f16(xb) * f16(wb)) * float32(s)
	}
	return sum
}
