package model

import (
	"math"
	"sync"

	"github.com/shimmer-llm/shimmer/quant"
)

// geluTable maps every half-precision bit pattern h to the float32 value
// of fp16(gelu(fp32(h))), the lookup table ggml's CPU backend uses for
// GELU.
var geluTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = quant.FP16ToFP32(quant.FP32ToFP16(GELU(quant.FP16ToFP32(uint16(i)))))
	}
	return &t
})

// GELU is the tanh approximation of GELU evaluated in float32:
// 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))).
func GELU(x float32) float32 {
	const sqrt2OverPi = 0.79788456080286535587989211986876
	const coef = 0.044715
	inner := float32(sqrt2OverPi) * x * (1 + float32(coef)*x*x)
	return 0.5 * x * (1 + float32(math.Tanh(float64(inner))))
}

// GELUFP16 is GELU as ggml computes it on the CPU: x ≤ -10 gives 0, x ≥ 10
// gives x, and otherwise x is rounded to half precision and looked up in
// a table of half-precision GELU values.
func GELUFP16(x float32) float32 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	return geluTable()[quant.FP32ToFP16(x)]
}

// GELURow sets x[i] = GELUFP16(x[i]) for every x[i].
func GELURow(x []float32) {
	t := geluTable()
	var h [256]uint16
	for len(x) > 0 {
		c := x[:min(len(x), len(h))]
		quant.FP32ToFP16Row(h[:len(c)], c)
		for i, v := range c {
			switch {
			case v <= -10:
				c[i] = 0
			case v < 10:
				c[i] = t[h[i]]
			}
		}
		x = x[len(c):]
	}
}

// GeGLU writes GELUFP16(gate)·up to dst (gated GELU feed-forward).
func GeGLU(dst, gate, up []float32) {
	t := geluTable()
	up = up[:len(gate)]
	dst = dst[:len(gate)]
	var h [256]uint16
	for off := 0; off < len(gate); off += len(h) {
		g := gate[off:min(len(gate), off+len(h))]
		quant.FP32ToFP16Row(h[:len(g)], g)
		for i, v := range g {
			j := off + i
			switch {
			case v <= -10:
				dst[j] = 0
			case v >= 10:
				dst[j] = v * up[j]
			default:
				dst[j] = t[h[i]] * up[j]
			}
		}
	}
}
