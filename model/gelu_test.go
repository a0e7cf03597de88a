package model

import (
	"math"
	"testing"

	"github.com/shimmer-llm/shimmer/quant"
)

// GELUFP16 follows ggml: 0 at or below -10, identity at or above 10, and
// in between tanh-GELU at the half-precision x, within one half-precision
// step of the float64 formula (or 1e-6 where float32 cancels 1+tanh to 0).
func TestGELUFP16(t *testing.T) {
	exact := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*x*(1+0.044715*x*x)))
	}
	for _, x := range []float32{-12, -10, 10, 10.5, 123} {
		want := x
		if x <= -10 {
			want = 0
		}
		if got := GELUFP16(x); got != want {
			t.Errorf("GELUFP16(%g) = %g, expected %g", x, got, want)
		}
	}
	for x := float32(-9.99); x < 10; x += 0.0173 {
		xh := float64(quant.FP16ToFP32(quant.FP32ToFP16(x)))
		want := exact(xh)
		got := float64(GELUFP16(x))
		if got != float64(quant.FP16ToFP32(quant.FP32ToFP16(float32(got)))) {
			t.Fatalf("GELUFP16(%g) = %g is not a half-precision value", x, got)
		}
		if step := math.Max(math.Abs(want)*0x1p-10, 1e-6); math.Abs(got-want) > step {
			t.Fatalf("GELUFP16(%g) = %g, formula %g", x, got, want)
		}
	}
	// GeGLU and GELURow (half-precision conversion of whole rows) give
	// GELUFP16 element by element, across their chunks of 256.
	gate := []float32{-11, -10, -1, 0.5, 3, 10, 11}
	for x := float32(-12); len(gate) < 1000; x += 0.0241 {
		gate = append(gate, x)
	}
	up, dst := make([]float32, len(gate)), make([]float32, len(gate))
	for i := range up {
		up[i] = float32(i%7) - 3
	}
	GeGLU(dst, gate, up)
	row := append([]float32(nil), gate...)
	GELURow(row)
	for i := range gate {
		if want := GELUFP16(gate[i]) * up[i]; dst[i] != want {
			t.Errorf("GeGLU[%d] = %g, expected %g", i, dst[i], want)
		}
		if want := GELUFP16(gate[i]); row[i] != want {
			t.Errorf("GELURow(%g) = %g, expected %g", gate[i], row[i], want)
		}
	}
}

// SetSWAPattern follows llama.cpp: the last layer of every period is
// global; period 0 makes every layer a window layer.
func TestSetSWAPattern(t *testing.T) {
	for _, c := range []struct {
		period int
		want   string
	}{{6, "SSSSSGSS"}, {2, "SGSGSGSG"}, {1, "GGGGGGGG"}, {0, "SSSSSSSS"}} {
		h := &Hyper{SWA: make([]bool, 8)}
		h.SetSWAPattern(c.period)
		got := ""
		for _, s := range h.SWA {
			if s {
				got += "S"
			} else {
				got += "G"
			}
		}
		if got != c.want {
			t.Errorf("period %d: %s, expected %s", c.period, got, c.want)
		}
	}
}
