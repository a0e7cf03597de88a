package archs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/model"
)

// loraTol bounds |Δ| from llama.cpp's logits of a base model with an
// adapter, on top of 1.5× what llama.cpp's own second path moves them
// (testdata/lora-chunk1.json: 5e-6 for the F32 adapter, 2–3e-3 for the
// F16 one, whose products llama.cpp takes on F16-rounded activations).
// The adapters move the logits by 4–13, so a missed, doubled or
// mis-scaled update is far outside it.
const loraTol = 1e-3

// chunk1Stat is llama.cpp's own move of a lora/ case when it evaluates
// the prompt one token per batch (testdata/README.md).
type chunk1Stat struct {
	Case   string
	Prompt float64 `json:"chunk1_vs_batch_prompt_maxabs"`
	Gen    float64 `json:"chunk1_vs_batch_gen_maxabs"`
}

// loraCases lists the cases of lora/ (at least the four the data has).
func loraCases(t *testing.T) []string {
	paths, _ := filepath.Glob(testdata.Path(t, "lora", "*.json"))
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".json"))
	}
	if len(names) < 4 {
		t.Fatalf("only %d LoRA cases in the test data: %v", len(names), names)
	}
	return names
}

// Every case of lora/ matches llama.cpp: the prompt as one batch and the
// generated tokens one per step (teacher forcing) within loraTol, and
// the greedy token wherever llama.cpp's margin exceeds 0.01.
func TestLoRAReference(t *testing.T) {
	b, err := os.ReadFile("testdata/lora-chunk1.json")
	if err != nil {
		t.Fatal(err)
	}
	var stats []chunk1Stat
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatal(err)
	}
	own := map[string]float64{}
	for _, st := range stats {
		own[st.Case] = max(st.Prompt, st.Gen)
	}
	for _, name := range loraCases(t) {
		t.Run(name, func(t *testing.T) {
			lc, ok := own[name]
			if !ok {
				t.Fatalf("%s: no entry in testdata/lora-chunk1.json", name)
			}
			bound := loraTol + 1.5*lc
			ref := testdata.LoadReferenceIn(t, "lora", name)
			if ref.Adapter == "" || ref.AdapterScale == 0 {
				t.Fatalf("%s names no adapter or scale", name)
			}
			path := testdata.Path(t, "models", ref.Model)
			sch := reftest.Schedule{LoRA: []string{testdata.Path(t, "models", ref.Adapter)}, Scales: [][]float32{{ref.AdapterScale}}}
			rows := reftest.Run(t, path, ref, sch)[0]
			p := testdata.MaxAbsDiff(rows.Prompt, ref.Logits)
			g := testdata.MaxAbsDiff(rows.Gen, ref.GenLogits)
			t.Logf("%s with %s at %g: prompt max|Δ| %.2e, gen max|Δ| %.2e (llama.cpp's own second path %.2e, bound %.2e)", ref.Model, ref.Adapter, ref.AdapterScale, p, g, lc, bound)
			if p > bound || g > bound {
				t.Errorf("logits differ from llama.cpp's by %.3g (prompt) / %.3g (gen) > %.3g", p, g, bound)
			}
			// Token i is chosen from the last prompt row (i = 0) or from
			// the row of generated token i-1.
			for i, id := range ref.GreedyIDs {
				from := rows.Prompt[len(rows.Prompt)-1]
				if i > 0 {
					from = rows.Gen[i-1]
				}
				if got := reftest.Argmax(from); ref.GreedyMargins[i] > 0.01 && got != int(id) {
					t.Errorf("token %d: argmax %d, llama.cpp chose %d (margin %.3f)", i, got, id, ref.GreedyMargins[i])
				}
			}
			// Without the adapter the same run is far from these logits:
			// the check above cannot pass by ignoring the adapter.
			base := reftest.Run(t, path, ref, reftest.Schedule{})[0]
			if d := testdata.MaxAbsDiff(base.Prompt, ref.Logits); d < 1 {
				t.Errorf("the base model alone is within %.3g of the adapted logits", d)
			}
		})
	}
}

// Sequences with and without an adapter, or with two scales, share
// batches under several schedules, and each gives exactly what it gives
// alone (batch invariance across adapters).
func TestLoRABatchInvariance(t *testing.T) {
	for _, name := range []string{"tiny-llama-lora@1.ids", "tiny-qwen3-lora@1.ids"} {
		t.Run(name, func(t *testing.T) {
			ref := testdata.LoadReferenceIn(t, "lora", name)
			path := testdata.Path(t, "models", ref.Model)
			ad := []string{testdata.Path(t, "models", ref.Adapter)}
			alone := func(s float32) []([]float32) {
				r := reftest.Run(t, path, ref, reftest.Schedule{LoRA: ad, Scales: [][]float32{{s}}})[0]
				return append(r.Prompt, r.Gen...)
			}
			want := [][][]float32{alone(1), alone(0), alone(0.5)}
			for _, sch := range []reftest.Schedule{
				{Chunks: []int{5, 3, 7, 9}, Seqs: 3, MaxBatch: 27},
				{Chunks: []int{1}, Seqs: 3},
				{Chunks: []int{24}, Seqs: 3},
			} {
				sch.LoRA, sch.Scales = ad, [][]float32{{1}, {0}, {0.5}}
				for q, rows := range reftest.Run(t, path, ref, sch) {
					if d := testdata.MaxAbsDiff(append(rows.Prompt, rows.Gen...), want[q]); d != 0 {
						t.Errorf("chunks %v, seq %d (scale %g): differs from its run alone by %.3g", sch.Chunks, q, sch.Scales[q][0], d)
					}
				}
			}
		})
	}
}

// rewriteAdapter copies an adapter file, dropping the tensors drop names,
// giving the tensors of reshape new dims (their data cut or padded to
// fit) and the tensors of rename new names, with extra metadata set.
func rewriteAdapter(t *testing.T, name string, keys map[string]any, drop []string, reshape map[string][]uint64, rename map[string]string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(testdata.Path(t, "models", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		if err := w.Set(kv.Key, kv.Value.Any()); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range keys {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		if containsStr(drop, ti.Name) {
			continue
		}
		dims, data := ti.Dims, ti.Data
		if d, ok := reshape[ti.Name]; ok {
			dims = d
			n := uint64(1)
			for _, x := range d {
				n *= x
			}
			data = make([]byte, ti.Type.RowBytes(int(n)))
			copy(data, ti.Data)
		}
		tn := ti.Name
		if r, ok := rename[tn]; ok {
			tn = r
		}
		if err := w.AddTensor(tn, ti.Type, dims, data); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A mismatched adapter is refused with one line naming the problem: an
// adapter for another architecture, one whose shapes do not fit the base,
// one missing a lora_b, one whose halves disagree on the rank, a file
// that is not an adapter, and a target shimmer does not adapt.
func TestLoRAErrors(t *testing.T) {
	base, err := gguf.Open(testdata.Path(t, "models", "tiny-llama.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	m, err := model.New(base)
	if err != nil {
		t.Fatal(err)
	}
	check := func(label string, f *gguf.File, want ...string) {
		t.Helper()
		a, err := lora.FromFile(f, label+".gguf")
		if err == nil {
			err = a.Check(base)
		}
		if err == nil {
			_, err = model.BindLoRA(m, []*lora.Adapter{a})
		}
		if err == nil {
			t.Errorf("%s: accepted", label)
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: error of several lines: %q", label, msg)
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not mention %q", label, msg, w)
			}
		}
		t.Logf("%s: %v", label, err)
	}
	qwen, err := gguf.Open(testdata.Path(t, "models", "tiny-qwen3-lora.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	check("other-arch", qwen, `"qwen3"`, `"llama"`)
	check("wrong-shape", rewriteAdapter(t, "tiny-llama-lora.gguf", nil, nil, map[string][]uint64{
		"blk.1.attn_q.weight.lora_a": {64, 4},
	}, nil), "blk.1.attn_q.weight", "[64 4]")
	check("no-lora_b", rewriteAdapter(t, "tiny-llama-lora.gguf", nil, []string{"blk.0.ffn_down.weight.lora_b"}, nil, nil),
		"blk.0.ffn_down.weight.lora_a", "lora_b")
	check("ranks", rewriteAdapter(t, "tiny-llama-lora.gguf", nil, nil, map[string][]uint64{
		"blk.0.attn_v.weight.lora_b": {2, 32},
	}, nil), "blk.0.attn_v.weight", "rank")
	check("not-adapter", rewriteAdapter(t, "tiny-llama-lora.gguf", map[string]any{"general.type": "model"}, nil, nil, nil), "not an adapter")
	check("missing-target", rewriteAdapter(t, "tiny-llama-lora.gguf", nil, nil, nil, map[string]string{
		"blk.1.attn_q.weight.lora_a": "blk.9.attn_q.weight.lora_a", "blk.1.attn_q.weight.lora_b": "blk.9.attn_q.weight.lora_b",
	}), "blk.9.attn_q.weight", "has not")
	check("embedding", rewriteAdapter(t, "tiny-llama-lora.gguf", nil, nil, map[string][]uint64{"blk.1.attn_q.weight.lora_b": {4, 512}}, map[string]string{
		"blk.1.attn_q.weight.lora_a": "token_embd.weight.lora_a", "blk.1.attn_q.weight.lora_b": "token_embd.weight.lora_b",
	}), "token_embd.weight", "does not adapt")
}
