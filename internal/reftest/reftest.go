// Package reftest runs models on llama.cpp's reference cases (teacher
// forcing) and checks the logits against the tolerances of MODELS.md.
package reftest

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
)

// Logits evaluates the reference prompt as one batch, then feeds the
// reference greedy tokens one at a time (teacher forcing), and returns the
// prompt and generation logits.
func Logits(tb testing.TB, modelPath string, ref *testdata.Reference) (prompt, gen [][]float32) {
	tb.Helper()
	r := Run(tb, modelPath, ref, Schedule{})
	return r[0].Prompt, r[0].Gen
}

// Schedule says how Run feeds a reference case to a model.
type Schedule struct {
	// Chunks are the sizes of the batches the prompt is split into, used
	// in turn and cyclically; nil evaluates the prompt as one batch.
	Chunks []int
	// MaxBatch is the batch capacity of the state and cache (0: the
	// largest batch the schedule needs).
	MaxBatch int
	// Seqs is the number of sequences that run the same case side by side,
	// their entries interleaved in every batch (0 means 1).
	Seqs int
}

// Rows are the logits of one sequence: one row per prompt position and
// one per generated token.
type Rows struct {
	Prompt, Gen [][]float32
}

// Run evaluates the reference case on the model file with teacher
// forcing: the prompt in the batches of sch, then the reference greedy
// tokens one decode step at a time (one entry per sequence). It returns
// the logits of every sequence.
func Run(tb testing.TB, modelPath string, ref *testdata.Reference, sch Schedule) []Rows {
	tb.Helper()
	f, err := gguf.Open(modelPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := model.New(f)
	if err != nil {
		tb.Fatal(err)
	}
	h := m.Hyper()
	pool := compute.NewPool(2)
	defer pool.Close()
	seqs := max(1, sch.Seqs)
	chunks := sch.Chunks
	if len(chunks) == 0 {
		chunks = []int{len(ref.PromptIDs)}
	}
	maxBatch := sch.MaxBatch
	if maxBatch == 0 {
		maxBatch = seqs * slices.Max(chunks)
	}
	n := len(ref.PromptIDs) + len(ref.GreedyIDs)
	cache, err := model.NewKVCache(h, seqs, n, maxBatch)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := model.NewState(h, pool, cache, maxBatch)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]Rows, seqs)
	var b model.Batch
	logits := make([]float32, maxBatch*h.Vocab)
	// step evaluates tokens[pos0:pos0+c] of every sequence as one batch
	// and appends each entry's logits to its sequence.
	step := func(tokens []int32, pos0 int, gen bool) {
		b.Reset()
		for i, id := range tokens {
			for q := 0; q < seqs; q++ {
				b.Add(id, int32(pos0+i), int32(q), true)
			}
		}
		if err := m.Forward(s, &b, logits); err != nil {
			tb.Fatal(err)
		}
		for e := 0; e < b.Len(); e++ {
			row := slices.Clone(logits[e*h.Vocab : (e+1)*h.Vocab])
			q := &out[b.Seq[e]]
			if gen {
				q.Gen = append(q.Gen, row)
			} else {
				q.Prompt = append(q.Prompt, row)
			}
		}
	}
	for pos, k := 0, 0; pos < len(ref.PromptIDs); k++ {
		c := min(chunks[k%len(chunks)], len(ref.PromptIDs)-pos)
		step(ref.PromptIDs[pos:pos+c], pos, false)
		pos += c
	}
	for i := range ref.GreedyIDs {
		step(ref.GreedyIDs[i:i+1], len(ref.PromptIDs)+i, true)
	}
	return out
}

// Argmax returns the index of the largest value (the lowest on ties).
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// GreedyMismatches compares the argmax of the teacher-forced logits with
// the reference greedy ids at every step whose reference margin exceeds
// minMargin, and describes the steps that differ.
func GreedyMismatches(ref *testdata.Reference, prompt, gen [][]float32, minMargin float64) []string {
	var bad []string
	for i, want := range ref.GreedyIDs {
		row := prompt[len(prompt)-1]
		if i > 0 {
			row = gen[i-1]
		}
		if got := Argmax(row); int32(got) != want && ref.GreedyMargins[i] > minMargin {
			bad = append(bad, fmt.Sprintf("step %d: %d, reference %d (margin %.3g)", i, got, want, ref.GreedyMargins[i]))
		}
	}
	return bad
}

// Models lists the model files (names without .gguf) under models/ whose
// name starts with one of the prefixes.
func Models(tb testing.TB, prefixes ...string) []string {
	paths, _ := filepath.Glob(testdata.Path(tb, "models", "*.gguf"))
	var out []string
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".gguf")
		for _, pre := range prefixes {
			if strings.HasPrefix(name, pre) {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Result is the outcome of checking one model against its reference.
type Result struct {
	Model     string
	Against   string  // reference case the tolerance applied to
	MaxPrompt float64 // worst |Δ| over prompt rows
	MaxGen    float64 // worst |Δ| over generation rows
	Tol       float64
	Gen       bool     // MaxGen is held to Tol too
	Greedy    []string // greedy mismatches above the margin
}

// Tolerances of one comparison.
type Tolerances struct {
	F32       float64 // all-F32 models, against the native case
	HalfDeq   float64 // F16/BF16 models against -deqf32 …
	HalfNat   float64 // … or against the native case
	Quant     float64 // quantized models, against the native case
	MinMargin float64 // greedy ids must match where the margin exceeds this
	// Gen holds the generation rows to the same tolerance as the prompt
	// rows (otherwise they are only reported).
	Gen bool
}

// Check runs the ids case of the model file name (without .gguf) and
// applies the tolerance for its weight types: F32 against the native
// case; F16/BF16 against -deqf32 or, failing that, native; quantized
// against native.
func Check(tb testing.TB, name string, tol Tolerances) Result {
	tb.Helper()
	path := testdata.Path(tb, "models", name+".gguf")
	kind := weightKind(tb, path)
	ref := testdata.LoadReference(tb, name+".ids")
	p, g := Logits(tb, path, ref)
	r := Result{Model: name, Against: "ids", MaxPrompt: testdata.MaxAbsDiff(p, ref.Logits), MaxGen: maxGenBeforeDivergence(ref, g)}
	r.Greedy = GreedyMismatches(ref, p, g, tol.MinMargin)
	r.Gen = tol.Gen
	switch kind {
	case "F32":
		r.Tol = tol.F32
	case "half":
		r.Tol = tol.HalfNat
		if _, err := os.Stat(testdata.Path(tb, "reference", name+".ids-deqf32.json")); err == nil && r.MaxPrompt > tol.HalfNat {
			dref := testdata.LoadReference(tb, name+".ids-deqf32")
			dp, dg := Logits(tb, path, dref)
			r = Result{Model: name, Against: "ids-deqf32", MaxPrompt: testdata.MaxAbsDiff(dp, dref.Logits), MaxGen: maxGenBeforeDivergence(dref, dg), Tol: tol.HalfDeq, Gen: tol.Gen, Greedy: GreedyMismatches(dref, dp, dg, tol.MinMargin)}
		}
	default:
		r.Tol = tol.Quant
	}
	return r
}

// maxGenBeforeDivergence is the worst |Δ| over generation rows.
func maxGenBeforeDivergence(ref *testdata.Reference, gen [][]float32) float64 {
	return testdata.MaxAbsDiff(gen, ref.GenLogits[:len(gen)])
}

// weightKind classifies a model by its 2-D tensors: "F32", "half" (F16 or
// BF16 present, nothing quantized) or "quant".
func weightKind(tb testing.TB, path string) string {
	f, err := gguf.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	kind := "F32"
	for _, t := range f.Tensors {
		switch t.Type {
		case gguf.TypeF32:
		case gguf.TypeF16, gguf.TypeBF16:
			if kind == "F32" {
				kind = "half"
			}
		default:
			kind = "quant"
		}
	}
	return kind
}

// Report logs r and fails tb when it is out of tolerance.
func Report(tb testing.TB, r Result) {
	tb.Helper()
	tb.Logf("%-28s vs %-10s prompt max|Δ| %.2e  gen max|Δ| %.2e  (tolerance %.0e)", r.Model, r.Against, r.MaxPrompt, r.MaxGen, r.Tol)
	if r.MaxPrompt > r.Tol || math.IsNaN(r.MaxPrompt) {
		tb.Errorf("%s: prompt logits differ from the reference by %.3g > %.0e", r.Model, r.MaxPrompt, r.Tol)
	}
	if r.Gen && (r.MaxGen > r.Tol || math.IsNaN(r.MaxGen)) {
		tb.Errorf("%s: generation logits differ from the reference by %.3g > %.0e", r.Model, r.MaxGen, r.Tol)
	}
	for _, m := range r.Greedy {
		tb.Errorf("%s: greedy %s", r.Model, m)
	}
}
