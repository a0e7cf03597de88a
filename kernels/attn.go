package kernels

import (
	"math"

	"github.com/shimmer-llm/shimmer/quant"
)

// AttnBlock is the number of cached positions a key block holds: keys are
// cached transposed in blocks of AttnBlock positions, element (d, j) of a
// block at d·AttnBlock + j (see AttnScores).
const AttnBlock = 64

// AttnScores sets out[r·64 + j] = Σ_d q[r·qs + d]·kt[d·64 + j] for rows r <
// rows and keys j < 64, d < dim: the scores of up to rows query rows (qs
// apart) against one transposed key block. Each score is accumulated with
// fused multiply-adds in order of d, whatever the number of rows, so a
// row's scores never depend on the rows computed with it.
func AttnScores(out, q []float32, rows, qs int, kt []float32, dim int) {
	if rows == 0 || dim == 0 {
		return
	}
	_, _, _ = out[rows*AttnBlock-1], q[(rows-1)*qs+dim-1], kt[dim*AttnBlock-1]
	attnScores(out, q, rows, qs, kt, dim)
}

// AttnScoresF16 is AttnScores with keys in half precision.
func AttnScoresF16(out, q []float32, rows, qs int, kt []uint16, dim int) {
	if rows == 0 || dim == 0 {
		return
	}
	_, _, _ = out[rows*AttnBlock-1], q[(rows-1)*qs+dim-1], kt[dim*AttnBlock-1]
	attnScoresF16(out, q, rows, qs, kt, dim)
}

// AttnPV adds Σ_{j<n} p[r·64 + j]·v[j·vs + c] to o[r·os + c] for rows r <
// rows and columns c < dim: the probability-weighted sum of n value rows
// (vs apart) for up to rows output rows (os apart). Each output element
// takes one fused multiply-add per value row, in order of j.
func AttnPV(o []float32, rows, os int, p, v []float32, vs, n, dim int) {
	if rows == 0 || n == 0 || dim == 0 {
		return
	}
	_, _, _ = o[(rows-1)*os+dim-1], p[(rows-1)*AttnBlock+n-1], v[(n-1)*vs+dim-1]
	attnPV(o, rows, os, p, v, vs, n, dim)
}

// AttnPVF16 is AttnPV with values in half precision.
func AttnPVF16(o []float32, rows, os int, p []float32, v []uint16, vs, n, dim int) {
	if rows == 0 || n == 0 || dim == 0 {
		return
	}
	_, _, _ = o[(rows-1)*os+dim-1], p[(rows-1)*AttnBlock+n-1], v[(n-1)*vs+dim-1]
	attnPVF16(o, rows, os, p, v, vs, n, dim)
}

func attnScoresGeneric(out, q []float32, rows, qs int, kt []float32, dim int) {
	for r := 0; r < rows; r++ {
		s := out[r*AttnBlock : (r+1)*AttnBlock]
		clear(s)
		for d, x := range q[r*qs : r*qs+dim] {
			k := kt[d*AttnBlock : (d+1)*AttnBlock]
			for j := range s {
				s[j] = float32(math.FMA(float64(x), float64(k[j]), float64(s[j])))
			}
		}
	}
}

func attnScoresF16Generic(out, q []float32, rows, qs int, kt []uint16, dim int) {
	for r := 0; r < rows; r++ {
		s := out[r*AttnBlock : (r+1)*AttnBlock]
		clear(s)
		for d, x := range q[r*qs : r*qs+dim] {
			k := kt[d*AttnBlock : (d+1)*AttnBlock]
			for j := range s {
				s[j] = float32(math.FMA(float64(x), float64(quant.FP16ToFP32(k[j])), float64(s[j])))
			}
		}
	}
}

func attnPVGeneric(o []float32, rows, os int, p, v []float32, vs, n, dim int) {
	for r := 0; r < rows; r++ {
		or := o[r*os : r*os+dim]
		for j, w := range p[r*AttnBlock : r*AttnBlock+n] {
			vr := v[j*vs : j*vs+dim]
			for c := range or {
				or[c] = float32(math.FMA(float64(w), float64(vr[c]), float64(or[c])))
			}
		}
	}
}

func attnPVF16Generic(o []float32, rows, os int, p []float32, v []uint16, vs, n, dim int) {
	for r := 0; r < rows; r++ {
		or := o[r*os : r*os+dim]
		for j, w := range p[r*AttnBlock : r*AttnBlock+n] {
			vr := v[j*vs : j*vs+dim]
			for c := range or {
				or[c] = float32(math.FMA(float64(w), float64(quant.FP16ToFP32(vr[c])), float64(or[c])))
			}
		}
	}
}

// SoftmaxBlocks is one step of an online softmax for each of rows blocks
// of 64 scores x[r·64 : (r+1)·64], whose lanes outside [lo, hi) are
// ignored: it scales the block by s, and with m[r] the row's running
// maximum (-Inf at first) and mb the block's largest scaled score, sets
// m' = max(m[r], mb) and x[j] = exp(x[j] - m') (0 outside [lo, hi); the
// float32 exponential below). m[r] is replaced by m', sum[r] receives the
// sum of the block's exponentials (in float64, in a fixed order) and
// alpha[r] = Exp(m[r] - m'), by which earlier sums and outputs must be
// multiplied (1 when m' = m[r], so nothing is to be done). Each row's
// results do not depend on the rows beside it.
func SoftmaxBlocks(x []float32, rows, lo, hi int, s float32, m, alpha []float32, sum []float64) {
	if rows <= 0 {
		return
	}
	_, _, _, _ = x[rows*AttnBlock-1], m[rows-1], alpha[rows-1], sum[rows-1]
	for r := range rows {
		b := (*[AttnBlock]float32)(x[r*AttnBlock : (r+1)*AttnBlock])
		for j := range lo {
			b[j] = float32(math.Inf(-1))
		}
		for j := hi; j < AttnBlock; j++ {
			b[j] = float32(math.Inf(-1))
		}
		mb := scaleMax64(b, s)
		alpha[r] = 1
		if mb > m[r] {
			a := float32(0)
			if !math.IsInf(float64(m[r]), -1) {
				a = Exp(m[r] - mb)
			}
			alpha[r], m[r] = a, mb
		}
	}
	expRows(x, m, rows)
	for r := range rows {
		sum[r] = sum64((*[AttnBlock]float32)(x[r*AttnBlock : (r+1)*AttnBlock]))
	}
}

// The float32 exponential of the softmax blocks (Cephes' expf): with t =
// x - m clamped to [-110, 88] (a NaN taken as -110), k = round(t·log2 e)
// to even, r = t - k·c1 - k·c2 (c1 + c2 = ln 2, k·c1 exact), exp(t) =
// 2^k·(1 + r + (P(r)·r)·r), P of degree 5. Every step is one float32
// multiply or add (no fused ones), so the SIMD code gives the same bits;
// the error is within 2 ulp of exp (TestExpBlock), results below 2^-149
// are 0 and exact zeros come from the masked lanes' -Inf.
const (
	expLog2e = float32(1.44269504088896341)
	expC1    = float32(0.693359375)
	expC2    = float32(-2.12194440e-4)
	expP0    = float32(1.9875691500e-4)
	expP1    = float32(1.3981999507e-3)
	expP2    = float32(8.3334519073e-3)
	expP3    = float32(4.1665795894e-2)
	expP4    = float32(1.6666665459e-1)
	expP5    = float32(5.0000001201e-1)
	expLo    = float32(-110)
	expHi    = float32(88)
)

// expRowsGeneric sets x[r·64 + j] = exp(x[r·64 + j] - m[r]) for r < rows.
func expRowsGeneric(x []float32, m []float32, rows int) {
	for r := range rows {
		expBlockGeneric((*[AttnBlock]float32)(x[r*AttnBlock:(r+1)*AttnBlock]), m[r])
	}
}

func expBlockGeneric(x *[AttnBlock]float32, m float32) {
	for j, v := range x {
		t := v - m
		// The comparisons of VMAXPS and VMINPS (a NaN gives the bound).
		if !(t > expLo) {
			t = expLo
		}
		if !(t < expHi) {
			t = expHi
		}
		k := float32(math.RoundToEven(float64(float32(t * expLog2e))))
		r := t - float32(k*expC1)
		r = r - float32(k*expC2)
		p := float32(expP0*r) + expP1
		p = float32(p*r) + expP2
		p = float32(p*r) + expP3
		p = float32(p*r) + expP4
		p = float32(p*r) + expP5
		y := float32(float32(float32(float32(p*r)*r)+r) + 1)
		x[j] = float32(math.Ldexp(float64(y), int(k)))
	}
}

func scaleMax64Generic(x *[AttnBlock]float32, s float32) float32 {
	for j := range x {
		x[j] *= s
	}
	// The lane folding of the SIMD code; a maximum does not depend on it.
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func sum64Generic(x *[AttnBlock]float32) float64 {
	var l [8]float64
	for i, v := range x {
		l[i%8] += float64(v)
	}
	return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}
