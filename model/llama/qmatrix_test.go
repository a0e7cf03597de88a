package llama_test

import (
	"math"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// Every tiny-qmatrix model (one per weight type and mix) is run on the ids
// case with teacher forcing and compared with llama.cpp's native logits,
// activations being quantized to each weight type's dot-product type as
// the reference does.
//
// Rows match to ~5e-6 (float rounding) unless an activation value lies so
// close to a rounding boundary of its 8-bit quantization that ulp-level
// differences upstream round it the other way. Such a flip moves a row by
// ~0.1 and the later rows that attend to it; the reference shows the same
// sensitivity (its own F16-KV runs differ from its F32-KV runs by 0.15–0.3
// on these models, see MODELS.md), and perturbing the activations here by
// one part in 4·10⁶ moves flips between rows. So the test requires the
// first prompt rows and a quarter of all rows to be exact (a wrong kernel
// breaks every row) and every prompt row within 0.3, and logs the worst
// difference and the rows above 3e-2. F16/BF16 files are checked by
// TestReferenceLogits against their -deqf32 cases.
func TestQMatrixLogits(t *testing.T) {
	var names []string
	for _, n := range reftest.Models(t, "tiny-qmatrix-") {
		if n != "tiny-qmatrix-F16" && n != "tiny-qmatrix-BF16" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		t.Skip("no tiny-qmatrix models in the reference data")
	}
	const exact, flip, strict = 1e-4, 0.3, 3e-2
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ref := testdata.LoadReference(t, name+".ids")
			p, g := reftest.Logits(t, testdata.Path(t, "models", name+".gguf"), ref)
			rows := append(rowDiffs(p, ref.Logits), rowDiffs(g, ref.GenLogits)...)
			worst, nExact, nOver := 0.0, 0, 0
			for i, d := range rows {
				if d <= exact {
					nExact++
				}
				if i < len(p) {
					worst = math.Max(worst, d)
					if d > strict {
						nOver++
					}
				}
			}
			t.Logf("%-28s worst prompt row %.2e, %d/%d prompt rows > %.0e, %d/%d rows within %.0e",
				name, worst, nOver, len(p), strict, nExact, len(rows), exact)
			for i, d := range rows[:4] {
				if d > exact {
					t.Errorf("%s: prompt row %d differs by %.3g > %.0e", name, i, d, exact)
				}
			}
			if 4*nExact < len(rows) {
				t.Errorf("%s: only %d of %d rows match within %.0e", name, nExact, len(rows), exact)
			}
			if worst > flip || math.IsNaN(worst) {
				t.Errorf("%s: a prompt row differs by %.3g > %.1f", name, worst, flip)
			}
			for _, m := range reftest.GreedyMismatches(ref, p, g, 0.05) {
				// A greedy step may only differ in a row moved by a flip.
				t.Logf("%s: greedy %s", name, m)
			}
		})
	}
}

// rowDiffs returns max |a-b| per row.
func rowDiffs(a, b [][]float32) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		for j := range a[i] {
			d := math.Abs(float64(a[i][j]) - float64(b[i][j]))
			if d > out[i] || math.IsNaN(d) {
				out[i] = d
			}
		}
	}
	return out
}
