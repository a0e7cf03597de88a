package llama_test

import (
	"testing"

	"github.com/shimmer-llm/shimmer/internal/reftest"
	_ "github.com/shimmer-llm/shimmer/model/llama"
)

// Every llama model of the reference data matches llama.cpp's logits.
func TestReferenceLogits(t *testing.T) {
	tol := reftest.Tolerances{F32: 1e-3, HalfDeq: 2e-3, HalfNat: 3e-2, Quant: 3e-2, MinMargin: 0.01}
	for _, name := range reftest.Models(t, "stories260K", "tiny-llama", "tiny-qmatrix-F32", "tiny-qmatrix-F16", "tiny-qmatrix-BF16", "tiny-qmatrix-Q8_0", "tiny-qmatrix-Q4_0-pure") {
		t.Run(name, func(t *testing.T) {
			reftest.Report(t, reftest.Check(t, name, tol))
		})
	}
}
