package archs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
	_ "github.com/shimmer-llm/shimmer/model/archs"
)

// families are the model families of the reference data that shimmer
// runs, one per architecture variant (the quantization matrix and
// stories260K are llama).
var families = []string{"stories260K", "tiny-llama", "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3", "tiny-qmatrix", "tiny-mixtral", "tiny-qwen3moe", "tiny-gptoss"}

// Every model of every family matches llama.cpp's logits on every native
// reference case, prompt (one batch) and generation (one token per step)
// rows, within the thresholds of reftest.CheckModel for its weight kind.
func TestReferenceLogits(t *testing.T) {
	names := reftest.ModelsOf(t, families...)
	for _, fam := range families {
		if !slices.Contains(names, fam) && fam != "tiny-qmatrix" {
			t.Errorf("no %s model in the reference data", fam)
		}
	}
	if len(names) < 40 {
		t.Errorf("only %d models with reference cases: %v", len(names), names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) { reftest.CheckModel(t, name).Report(t) })
	}
}

// Reference models that shimmer does not run yet load with a clear error
// (the issue that adds each is in reftest.Pending), and every model file
// of the reference data is either checked above or pending.
func TestPendingModels(t *testing.T) {
	paths, _ := filepath.Glob(testdata.Path(t, "models", "*.gguf"))
	checked := reftest.ModelsOf(t, families...)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".gguf")
		issue, pending := reftest.PendingIssue(name)
		switch {
		case pending:
			f, err := gguf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = model.New(f)
			f.Close()
			if err == nil {
				t.Errorf("%s loads: add its family to the checked ones and drop it from reftest.Pending (%s)", name, issue)
			} else if !strings.Contains(err.Error(), "unsupported") && !strings.Contains(err.Error(), "not supported") {
				t.Errorf("%s: unclear error %q", name, err)
			} else {
				t.Logf("%s: not run yet (%s): %v", name, issue, err)
			}
		case slices.Contains(checked, name):
		default:
			if _, err := os.Stat(testdata.Path(t, "reference", name+".ids.json")); err == nil {
				t.Errorf("%s has reference logits but no test checks them", name)
			} else {
				t.Logf("%s: no logit reference (embedding, reranking or adapter file, checked elsewhere)", name)
			}
		}
	}
}

// Splitting the prompt into chunks, decoding one token per batch and
// running two sequences side by side in each batch all give exactly the
// same logits (batch invariance), and those reproduce the reference: F32
// and F16 files within their tolerances on every row, quantized files by
// the distribution (mean KL, argmax) as in TestReferenceLogits, since an
// 8-bit activation value that rounds the other way, or a routed expert
// that flips in a near tie, moves a row by more than float rounding. With
// gemma3's window of 8 the sliding-window cache is a ring of
// Window+MaxBatch-1 cells (rounded up to 64) that wraps over the 40
// positions.
func TestBatchSchedules(t *testing.T) {
	schedules := []reftest.Schedule{
		{Chunks: []int{5, 3, 7, 9}, MaxBatch: 9},
		{Chunks: []int{1}, MaxBatch: 1},
		{Chunks: []int{24}, Seqs: 2},
		{Chunks: []int{3, 10, 2}, Seqs: 2, MaxBatch: 20},
	}
	for _, name := range reftest.ModelsOf(t, "tiny-llama", "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3", "tiny-mixtral", "tiny-qwen3moe") {
		if strings.HasSuffix(name, "-F16") && !strings.HasPrefix(name, "tiny-gemma3") {
			continue // the F32 file covers the architecture
		}
		t.Run(name, func(t *testing.T) {
			tol := reftest.F32Tol
			if strings.HasPrefix(name, "tiny-gemma3") {
				tol = reftest.GELUTol
			}
			if strings.HasSuffix(name, "-F16") {
				tol = reftest.F16Tol
			}
			quantized := strings.Contains(name, "-Q")
			ref := testdata.LoadReference(t, name+".ids")
			path := testdata.Path(t, "models", name+".gguf")
			var first [][]float32
			for _, sch := range schedules {
				for q, rows := range reftest.Run(t, path, ref, sch) {
					all := append(append([][]float32(nil), rows.Prompt...), rows.Gen...)
					if first == nil {
						first = all
					} else if d := testdata.MaxAbsDiff(all, first); d != 0 {
						t.Errorf("chunks %v, seq %d: logits differ from the first schedule's by %.3g (batch invariance)", sch.Chunks, q, d)
					}
					p := testdata.MaxAbsDiff(rows.Prompt, ref.Logits)
					g := testdata.MaxAbsDiff(rows.Gen, ref.GenLogits)
					t.Logf("chunks %v, batch ≤ %d, seq %d: prompt max|Δ| %.2e, gen max|Δ| %.2e", sch.Chunks, sch.MaxBatch, q, p, g)
					if quantized {
						d := reftest.Compare(all, append(append([][]float32(nil), ref.Logits...), ref.GenLogits...))
						if d.MeanKL > reftest.MaxMeanKL || d.Top1Rate() < reftest.MinTop1 {
							t.Errorf("chunks %v, seq %d: %s", sch.Chunks, q, d)
						}
					} else if p > tol || g > tol {
						t.Errorf("chunks %v, seq %d: logits differ from the reference by %.3g / %.3g > %.0e", sch.Chunks, q, p, g, tol)
					}
				}
			}
		})
	}
}

// The cache of a sliding-window layer holds Window+MaxBatch-1 cells per
// sequence whatever the context, full-attention layers the whole context.
func TestSlidingWindowCache(t *testing.T) {
	h := hyper(t, "tiny-gemma3")
	want := []bool{true, true, true, true, true, false}
	if !slices.Equal(h.SWA, want) || h.Window != 8 {
		t.Fatalf("window %d on layers %v, expected 8 on %v", h.Window, h.SWA, want)
	}
	if h.RopeBaseSWA != 10000 || h.RopeBase != 1e6 {
		t.Errorf("rope base %g (window layers %g), expected 1e6 (10000)", h.RopeBase, h.RopeBaseSWA)
	}
	for _, c := range []struct{ ctx, batch, swaCap int }{{4096, 1, 8}, {4096, 16, 23}, {40, 24, 31}, {10, 512, 10}} {
		cache, err := model.NewKVCache(h, 2, c.ctx, c.batch, model.CacheTypes{})
		if err != nil {
			t.Fatal(err)
		}
		var cells int64
		for l := 0; l < h.Layers; l++ {
			want := c.ctx
			if h.SWA[l] {
				want = c.swaCap
			}
			want = (want + 63) / 64 * 64 // whole blocks of 64 cells
			if got := cache.Cap(l); got != want {
				t.Errorf("context %d, batch %d: layer %d holds %d cells, expected %d", c.ctx, c.batch, l, got, want)
			}
			cells += int64(cache.Cap(l))
		}
		if want := 2 * cells * int64(h.KDim()+h.VDim()) * 4; cache.Bytes() != want {
			t.Errorf("context %d: cache of %d bytes, expected %d", c.ctx, cache.Bytes(), want)
		}
	}
}

// attention.sliding_window_pattern and rope.freq_base_swa override
// gemma3's defaults: a period, or one flag per layer.
func TestSlidingWindowPattern(t *testing.T) {
	for _, c := range []struct {
		pattern any
		want    []bool
	}{
		{uint32(3), []bool{true, true, false, true, true, false}},
		{uint32(0), []bool{true, true, true, true, true, true}},
		{[]bool{false, true, false, true, false, true}, []bool{false, true, false, true, false, true}},
		{[]int32{1, 1, 0, 0, 1, 1}, []bool{true, true, false, false, true, true}},
	} {
		f := rewrite(t, "tiny-gemma3", map[string]any{
			"gemma3.attention.sliding_window_pattern": c.pattern,
			"gemma3.rope.freq_base_swa":               float32(20000),
		}, nil)
		m, err := model.New(f)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Hyper()
		if !slices.Equal(h.SWA, c.want) || h.RopeBaseSWA != 20000 {
			t.Errorf("pattern %v: window layers %v, rope base %g; expected %v, 20000", c.pattern, h.SWA, h.RopeBaseSWA, c.want)
		}
	}
	f := rewrite(t, "tiny-gemma3", map[string]any{"gemma3.attention.sliding_window_pattern": []int32{1, 0}}, nil)
	if _, err := model.New(f); err == nil || !strings.Contains(err.Error(), "sliding_window_pattern") {
		t.Errorf("a 2-entry pattern for 6 layers: error %v", err)
	}
}

// Files that do not fit their architecture fail with errors naming the
// key or tensor at fault (and both shapes), and an unknown architecture
// lists the supported ones.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		model string
		keys  map[string]any
		edit  map[string][]uint64 // nil dims: drop the tensor
		want  []string
	}{
		{"tiny-qwen2", nil, map[string][]uint64{"blk.1.attn_k.bias": nil}, []string{`"blk.1.attn_k.bias"`, "[64]"}},
		{"tiny-qwen3", nil, map[string][]uint64{"blk.2.attn_q_norm.weight": {32, 2}}, []string{`"blk.2.attn_q_norm.weight"`, "[32 2]", "[64]"}},
		{"tiny-phi3", nil, map[string][]uint64{"blk.0.attn_qkv.weight": {256, 128}}, []string{`"blk.0.attn_qkv.weight"`, "[256 128]", "[128 256]"}},
		{"tiny-phi3", nil, map[string][]uint64{"blk.0.ffn_up.weight": {256, 256}}, []string{`"blk.0.ffn_up.weight"`, "[256 256]", "[128 512]"}},
		{"tiny-gemma3", nil, map[string][]uint64{"blk.3.post_ffw_norm.weight": nil}, []string{`"blk.3.post_ffw_norm.weight"`}},
		{"tiny-gemma3", map[string]any{"gemma3.attention.sliding_window": nil}, nil, []string{"sliding_window"}},
		{"tiny-gptoss", nil, map[string][]uint64{"blk.1.ffn_up_exps.weight": {128, 8, 128}}, []string{`"blk.1.ffn_up_exps.weight"`, "[128 8 128]", "[128 128 8]"}},
		{"tiny-gptoss", nil, map[string][]uint64{"blk.2.ffn_down_exps.bias": {8, 128}}, []string{`"blk.2.ffn_down_exps.bias"`, "[8 128]", "[128 8]"}},
		{"tiny-gptoss", nil, map[string][]uint64{"blk.0.attn_sinks.weight": nil}, []string{`"blk.0.attn_sinks.weight"`, "[8]"}},
		{"tiny-qwen3moe", nil, map[string][]uint64{"blk.0.ffn_gate_exps.weight": nil}, []string{`"blk.0.ffn_gate_exps.weight"`, "[128 64 8]"}},
		{"tiny-mixtral", nil, map[string][]uint64{"blk.1.ffn_gate_inp.weight": {64, 16}}, []string{`"blk.1.ffn_gate_inp.weight"`, "[64 16]", "[128 8]"}},
		{"tiny-gptoss", map[string]any{"gpt-oss.rope.scaling.type": "longrope"}, nil, []string{`"longrope"`}},
		{"tiny-qwen2", map[string]any{"general.architecture": "mamba"}, nil, []string{`"mamba"`, "gemma3, gpt-oss, llama, phi3, qwen2, qwen3, qwen3moe"}},
	}
	for _, c := range cases {
		_, err := model.New(rewrite(t, c.model, c.keys, c.edit))
		if err == nil {
			t.Errorf("%s %v %v: loaded", c.model, c.keys, c.edit)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %s", c.model, err, w)
			}
		}
	}
}

// Hyper.Describe describes each architecture for shimmer info.
func TestParams(t *testing.T) {
	want := map[string][]string{
		"tiny-llama3": {"architecture: llama", "rope: norm, 16 dims, base 500000", "rope_freqs", "tied embeddings"},
		"tiny-qwen2":  {"architecture: qwen2", "rope: neox", "q/k/v bias"},
		"tiny-qwen3":  {"head width: 64", "q/k norm"},
		"tiny-phi3":   {"fused qkv", "fused gate/up", "attention scale: 0.176777 (on queries)"},
		"tiny-gemma3": {"sliding window: 8 on 5 of 6 layers [0-4]", "rope on window layers: base 10000", "gelu gated ffn", "post-norms", "embeddings ×√n_embd"},
		// YaRN: factor 4 from 256 tokens, NEOX, 32 dims, base 150000: the
		// ramp over pair indices floor(32·ln(256/(2π·32))/(2·ln 150000)) = 0
		// to ceil(32·ln(256/2π)/(2·ln 150000)) = 5, magnitude 1 + 0.1·ln 4.
		"tiny-gptoss": {"architecture: gpt-oss", "experts: 8, 2 per token", "rope: neox, 32 dims, base 150000", "rope frequency scale: 0.25",
			"rope scaling: yarn, ramp over dims [0, 5], magnitude 1.13863", "attention scale: 0.176777 (on scores)", "sliding window: 8 on 2 of 4 layers [0 2]",
			"q/k/v bias", "output bias", "attention sinks", "router and expert biases", "softmax over the chosen experts", "clamped silu (oai) gated ffn"},
	}
	for name, wants := range want {
		var lines []string
		for _, p := range hyper(t, name).Describe() {
			lines = append(lines, p[0]+": "+p[1])
		}
		text := strings.Join(lines, "\n")
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: parameters lack %q:\n%s", name, w, text)
			}
		}
	}
}

// hyper loads a reference model and returns its hyperparameters.
func hyper(t *testing.T, name string) *model.Hyper {
	t.Helper()
	f, err := gguf.Open(testdata.Path(t, "models", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := model.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return m.Hyper()
}

// rewrite copies a reference model with metadata keys set (nil deletes)
// and tensors reshaped (nil drops them; the data is kept, so a reshape
// must keep the element count), and opens the copy.
func rewrite(t *testing.T, name string, keys map[string]any, tensors map[string][]uint64) *gguf.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%s-edited.gguf", name))
	if err := os.WriteFile(path, rewriteBytes(t, name, keys, tensors), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// rewriteBytes is rewrite's file as bytes.
func rewriteBytes(t testing.TB, name string, keys map[string]any, tensors map[string][]uint64) []byte {
	t.Helper()
	src, err := gguf.Open(testdata.Path(t, "models", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range keys {
		if v == nil {
			w.Delete(k)
		} else if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range src.Tensors {
		dims, edited := tensors[ti.Name]
		if edited && dims == nil {
			continue
		}
		if !edited {
			dims = ti.Dims
		}
		if err := w.AddTensor(ti.Name, ti.Type, dims, ti.Data); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ActiveParams leaves out the unused experts' share: the total minus, per
// layer, (Experts-Used) experts of gate, up and down weights (and their
// biases where the architecture has them), counted from the
// hyperparameters, and all but one row of the token embedding.
func TestActiveParams(t *testing.T) {
	for _, c := range []struct {
		name   string
		biases bool
	}{{"tiny-mixtral", false}, {"tiny-qwen3moe", false}, {"tiny-gptoss", true}, {"tiny-gptoss-MXFP4_MOE", true}} {
		f, err := gguf.Open(testdata.Path(t, "models", c.name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := model.New(f)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Hyper()
		var total uint64
		for _, ti := range f.Tensors {
			total += ti.Elements()
		}
		perExpert := 3 * h.Embd * h.FF
		if c.biases {
			perExpert += 2*h.FF + h.Embd
		}
		want := total - uint64(h.Layers*perExpert*(h.Experts-h.ExpertsUsed))
		// One row of the token embedding when there is an output matrix
		// (tiny-qwen3moe ties them: the output reads every row).
		if _, ok := f.Tensor("output.weight"); ok {
			want -= uint64(h.Embd * (h.Vocab - 1))
		}
		if got := model.ActiveParams(f, h); got != want {
			t.Errorf("%s: ActiveParams %d, want %d (of %d)", c.name, got, want, total)
		}
		f.Close()
	}
}

// F16 matrices multiplied as BF16 (model.MultiplyF16AsBF16, the opt-in
// --f16-as-bf16) are lossy by design: weights and activations rounded to
// BF16. The yardstick is llama.cpp's own BF16 numerics: its run of
// tiny-qmatrix-BF16 (the same F32 weights rounded to BF16) differs from
// its run of tiny-qmatrix-F16 by some mean KL and argmax agreement on the
// shared id prompt; shimmer's F16 file multiplied as BF16 must be at least
// as close to llama.cpp's F16 run, by both. The products themselves are
// checked in compute (TestMultiplyAsBF16) against the generic BF16 dot
// products of the rounded weights.
func TestF16AsBF16(t *testing.T) {
	if !compute.BF16DotProducts() {
		t.Skip("no BF16 dot products on this CPU/build: --f16-as-bf16 does not apply")
	}
	f16 := testdata.LoadReference(t, "tiny-qmatrix-F16.ids")
	bf16 := testdata.LoadReference(t, "tiny-qmatrix-BF16.ids")
	if !slices.Equal(f16.PromptIDs, bf16.PromptIDs) {
		t.Fatal("the F16 and BF16 id prompts differ")
	}
	own := reftest.Compare(bf16.Logits, f16.Logits)
	path := testdata.Path(t, "models", "tiny-qmatrix-F16.gguf")
	got := reftest.Compare(reftest.Run(t, path, f16, reftest.Schedule{F16AsBF16: true})[0].Prompt, f16.Logits)
	exact := reftest.Compare(reftest.Run(t, path, f16, reftest.Schedule{})[0].Prompt, f16.Logits)
	t.Logf("llama.cpp BF16 vs F16: %v", own)
	t.Logf("shimmer F16 as BF16 vs llama.cpp F16: %v", got)
	t.Logf("shimmer F16 vs llama.cpp F16: %v", exact)
	if !(got.MeanKL <= own.MeanKL) || got.Top1 < own.Top1 {
		t.Errorf("F16 as BF16 is further from llama.cpp's F16 run (mean KL %.3g, top-1 %d/%d) than llama.cpp's BF16 run is (%.3g, %d/%d)", got.MeanKL, got.Top1, got.Rows, own.MeanKL, own.Top1, own.Rows)
	}
	// It is BF16 arithmetic, not F16's: far from the exact run's 1e-7s.
	if !(got.MeanKL > 100*exact.MeanKL) {
		t.Errorf("F16 as BF16 (mean KL %.3g) is as close as exact F16 products (%.3g): not multiplied as BF16?", got.MeanKL, exact.MeanKL)
	}
}
