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
func GELURow(x []float32) { gelu(x, x, nil) }

// GeGLU writes GELUFP16(gate)·up to dst (gated GELU feed-forward).
func GeGLU(dst, gate, up []float32) { gelu(dst[:len(gate)], gate, up[:len(gate)]) }

// gelu writes GELUFP16(gate[i]), times up[i] unless up is nil, to dst[i]
// (dst may be gate), as ggml: 0 at or below -10 (not multiplied), x at or
// above 10, else the table's value at x rounded to half precision. The
// rounding converts chunks of 256 at a time (F16C where the CPU has it).
func gelu(dst, gate, up []float32) {
	t := geluTable()
	var h [256]uint16
	for off := 0; off < len(gate); off += len(h) {
		g := gate[off:min(len(gate), off+len(h))]
		quant.FP32ToFP16Row(h[:len(g)], g)
		for i, v := range g {
			y := v
			switch {
			case v <= -10:
				dst[off+i] = 0
				continue
			case v < 10:
				y = t[h[i]]
			}
			if up != nil {
				y *= up[off+i]
			}
			dst[off+i] = y
		}
	}
}
