package server

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// fimModel writes stories260K with three of its tokens named as its
// fill-in-the-middle tokens (as llama.cpp's stories260K-infill test model
// is made).
func fimModel(t *testing.T, pre, suf, mid uint32) string {
	t.Helper()
	src, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		w.Set(kv.Key, kv.Value)
	}
	w.Set("tokenizer.ggml.fim_pre_token_id", pre)
	w.Set("tokenizer.ggml.fim_suf_token_id", suf)
	w.Set("tokenizer.ggml.fim_mid_token_id", mid)
	for _, ti := range src.Tensors {
		w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data)
	}
	path := filepath.Join(t.TempDir(), "fim.gguf")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return path
}

// POST /infill builds llama-server's FIM prompt — the extra files after a
// snippet line, BOS, prefix token, prefix, prompt, suffix token, suffix,
// middle token, the prefix cut to its last 3/4 batch — and completes it as
// /completion completes those tokens; a vocabulary without FIM tokens gets
// 501, a request without input_suffix 400.
func TestInfill(t *testing.T) {
	const pre, suf, mid = 500, 501, 502
	e, err := engine.Load(fimModel(t, pre, suf, mid), engine.Options{Threads: 2, BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	s, err := New(e, Options{ModelName: "fim"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	f := &fixture{e: e, s: s, ts: ts}
	tok := e.Tokenizer()
	long := ""
	for range 30 {
		long += "Once upon a time "
	}
	body := `{"input_prefix": "` + long + `", "input_suffix": "and they lived happily.", "prompt": "Lily",
		"input_extra": [{"filename": "a.txt", "text": "Tom had a dog."}], "n_predict": 8, "temperature": 0}`
	code, _, out := post(t, f.ts.URL+"/infill", body)
	var res nativeResult
	if code != 200 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("%d %s", code, out)
	}
	prefix := tok.Encode(long, false, false)
	prompt := tok.Encode("Lily", false, true)
	suffix := tok.Encode("and they lived happily.", false, false)
	extra := append(tok.Encode("\n\n--- snippet ---\n\n", false, false), tok.Encode("Tom had a dog.", false, false)...)
	want := slices.Concat(extra, []int32{tok.BOS(), pre}, prefix[len(prefix)-48:], prompt, []int32{suf}, suffix[:min(len(suffix), 16-2-len(prompt))], []int32{mid})
	if res.TokensEvaluated != len(want) || *res.Prompt != tok.Decode(want, true) {
		t.Errorf("infill prompt %q (%d tokens), want %q (%d)", *res.Prompt, res.TokensEvaluated, tok.Decode(want, true), len(want))
	}
	ids, _ := json.Marshal(want)
	code, _, out = post(t, f.ts.URL+"/completion", `{"prompt": `+string(ids)+`, "n_predict": 8, "temperature": 0}`)
	var plain nativeResult
	if code != 200 || json.Unmarshal([]byte(out), &plain) != nil || plain.Content != res.Content || res.TokensPredicted != 8 {
		t.Errorf("/completion of the same tokens: %q, /infill %q", plain.Content, res.Content)
	}
	if code, _, out := post(t, f.ts.URL+"/infill", `{"input_prefix": "a"}`); code != 400 {
		t.Errorf("no input_suffix: %d %s", code, out)
	}
	plainServer := newFixture(t, engine.Options{}, Options{})
	if code, _, out := post(t, plainServer.ts.URL+"/infill", `{"input_prefix": "a", "input_suffix": "b"}`); code != 501 {
		t.Errorf("no FIM tokens: %d %s", code, out)
	}
}
