package archs_test

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
)

// kv16Stat is what stats.json says of llama.cpp's own F16-KV run of a
// case against its F32-KV reference.
type kv16Stat struct {
	Model, Case string
	Prompt      float64 `json:"kv16_vs_kv32_prompt_maxabs"`
	Gen         float64 `json:"kv16_vs_kv32_gen_maxabs"`
	Divergence  *int    `json:"kv16_first_divergence"`
}

func maxAbs(a, b [][]float32, rows int) float64 {
	m := 0.0
	for i := 0; i < min(rows, len(a), len(b)); i++ {
		for j := range a[i] {
			m = max(m, math.Abs(float64(a[i][j])-float64(b[i][j])))
		}
	}
	return m
}

// TestF16Cache runs every native reference case with an F16 KV cache
// (teacher forcing) against llama.cpp's F32-KV references, to the
// closeness llama.cpp's own F16 cache has (stats.json's kv16_vs_kv32_*):
// |Δ| on every prompt row, and on gen rows up to llama.cpp's first greedy
// divergence, at most 1.5× llama.cpp's own plus the F32-cache tolerance
// of the weight kind (1e-4 F32, 3e-3 gemma3's GELU table, 1.5e-2 F16,
// 6e-2 BF16, and 0.18 for quantized files: the most llama.cpp's own
// second paths move them, as reftest's thresholds say). The mean KL and
// argmax agreement are logged.
//
// Sparse models (mixtral, qwen3moe, gpt-oss) are run and their numbers
// logged but not held to a bound: rounding the cache flips the route of
// some rows between two experts, which moves those rows by 1–5 (their
// quantized files here; llama.cpp's own F16 run flips on gpt-oss MXFP4,
// by 3.4, and happens not to on the others).
func TestF16Cache(t *testing.T) {
	b, err := os.ReadFile(testdata.Path(t, "reference", "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stats []kv16Stat
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, st := range stats {
		if st.Prompt == 0 || strings.HasSuffix(st.Case, "-deqf32") {
			continue
		}
		if checkCacheCase(t, "F16", model.CacheTypes{K: gguf.TypeF16, V: gguf.TypeF16}, st.Model, st.Case, st.Prompt, st.Gen, st.Divergence) {
			checked++
		}
	}
	if checked < 30 {
		t.Fatalf("only %d cases checked", checked)
	}
}

// checkCacheCase runs one reference case with a cache of the given types
// (teacher forcing) and holds its |Δ| from llama.cpp's F32-KV logits, on
// prompt rows and on gen rows up to llama.cpp's first greedy divergence
// under that cache, to 1.5× llama.cpp's own (prompt, gen) plus the
// weights' tolerance. Sparse models are logged only (it returns false).
func checkCacheCase(t *testing.T, label string, types model.CacheTypes, modelName, caseName string, lcPrompt, lcGen float64, divergence *int) bool {
	t.Helper()
	path := testdata.Path(t, "models", modelName+".gguf")
	ref := testdata.LoadReference(t, modelName+"."+caseName)
	rows := reftest.Run(t, path, ref, reftest.Schedule{Cache: types})[0]
	want, err := testdata.ReadF32Rows(testdata.Path(t, "reference", ref.LogitsFile), ref.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	wantGen, err := testdata.ReadF32Rows(testdata.Path(t, "reference", ref.GenLogitsFile), ref.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	genRows := ref.NGen
	if divergence != nil {
		genRows = *divergence
	}
	p, g := maxAbs(rows.Prompt, want, ref.NPrompt), maxAbs(rows.Gen, wantGen, genRows)
	d := reftest.Compare(append(rows.Prompt, rows.Gen...), append(want, wantGen...))
	name := modelName + "." + caseName
	t.Logf("%s: prompt %.2e (llama.cpp %.2e), gen %.2e (llama.cpp %.2e); %s", name, p, lcPrompt, g, lcGen, d)
	fam := reftest.Family(modelName)
	if fam == "tiny-mixtral" || fam == "tiny-qwen3moe" || fam == "tiny-gptoss" {
		return false // logged, not held: see TestF16Cache
	}
	if bound := 1.5*max(lcPrompt, lcGen) + denseTol(modelName); p > bound || g > bound {
		t.Errorf("%s: %s cache moves logits by %.2e (prompt) and %.2e (gen); llama.cpp's own %s cache by %.2e and %.2e (bound %.2e)", name, label, p, g, label, lcPrompt, lcGen, bound)
	}
	return true
}

// denseTol is the F32-cache tolerance of a model's weights.
func denseTol(name string) float64 {
	switch {
	case strings.HasSuffix(name, "-BF16"):
		return reftest.BF16Tol
	case strings.HasSuffix(name, "-F16"):
		return reftest.F16Tol
	case strings.Contains(name, "-Q") || strings.Contains(name, "-IQ") || strings.Contains(name, "-TQ") || strings.Contains(name, "MXFP4"):
		return 0.18
	case strings.Contains(name, "gemma3"):
		return reftest.GELUTol
	}
	return reftest.F32Tol
}

// q8Stat is llama.cpp's own Q8_0-cache run of a case against its F32-KV
// reference (testdata/kv-q8_0.json; see testdata/README.md).
type q8Stat struct {
	Model, Case string
	Prompt      float64 `json:"q8_vs_kv32_prompt_maxabs"`
	Gen         float64 `json:"q8_vs_kv32_gen_maxabs"`
	Divergence  *int    `json:"q8_first_divergence"`
}

// TestQ8Cache runs every native reference case llama.cpp runs with a Q8_0
// cache (keys and values) against the F32-KV references, held as
// TestF16Cache holds the F16 cache: |Δ| at most 1.5× llama.cpp's own
// Q8_0-cache difference plus the weights' tolerance, on prompt rows and
// on gen rows up to llama.cpp's first greedy divergence; sparse models are
// logged only. Models whose heads are not a multiple of 32 wide, which
// llama.cpp refuses, are refused with a clear error.
func TestQ8Cache(t *testing.T) {
	b, err := os.ReadFile("testdata/kv-q8_0.json")
	if err != nil {
		t.Fatal(err)
	}
	var stats []q8Stat
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	q8 := model.CacheTypes{K: gguf.TypeQ8_0, V: gguf.TypeQ8_0}
	checked := 0
	for _, st := range stats {
		if checkCacheCase(t, "Q8_0", q8, st.Model, st.Case, st.Prompt, st.Gen, st.Divergence) {
			checked++
		}
	}
	if checked < 25 {
		t.Fatalf("only %d cases checked", checked)
	}
	// tiny-llama's heads are 16 wide.
	f, err := gguf.Open(testdata.Path(t, "models", "tiny-llama.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.New(f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = model.NewKVCache(m.Hyper(), 1, 64, 8, q8)
	if err == nil || !strings.Contains(err.Error(), "multiple of 32") {
		t.Fatalf("tiny-llama with a Q8_0 cache: error %v, want one about head sizes", err)
	}
}

// Batch invariance holds with F16 and Q8_0 caches too: every schedule of
// TestBatchSchedules gives exactly the logits of the first (gemma3 with
// its ring of sliding-window cells, qwen3 with plain layers).
func TestBatchSchedulesQuantizedCache(t *testing.T) {
	for _, types := range []model.CacheTypes{{K: gguf.TypeF16, V: gguf.TypeF16}, {K: gguf.TypeQ8_0, V: gguf.TypeQ8_0}, {K: gguf.TypeQ8_0, V: gguf.TypeF16}} {
		for _, name := range []string{"tiny-gemma3", "tiny-qwen3"} {
			ref := testdata.LoadReference(t, name+".ids")
			path := testdata.Path(t, "models", name+".gguf")
			var first [][]float32
			for _, sch := range []reftest.Schedule{
				{Chunks: []int{5, 3, 7, 9}, MaxBatch: 9, Cache: types},
				{Chunks: []int{1}, MaxBatch: 1, Cache: types},
				{Chunks: []int{3, 10, 2}, Seqs: 2, MaxBatch: 20, Cache: types},
			} {
				for q, rows := range reftest.Run(t, path, ref, sch) {
					all := append(append([][]float32(nil), rows.Prompt...), rows.Gen...)
					if first == nil {
						first = all
					} else if d := testdata.MaxAbsDiff(all, first); d != 0 {
						t.Errorf("%s, %v cache, chunks %v, seq %d: logits differ from the first schedule's by %.3g", name, types, sch.Chunks, q, d)
					}
				}
			}
		}
	}
}
