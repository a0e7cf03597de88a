package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// logits --lora FILE:SCALE reproduces llama.cpp's ids for a lora/ case and
// its prompt rows within 1e-3; bench takes --lora; info describes an
// adapter; a mismatched adapter is one clear line and exit 1.
func TestLoRACommands(t *testing.T) {
	ref := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@0.5.ids")
	base := testdata.Path(t, "models", "tiny-llama.gguf")
	adapter := testdata.Path(t, "models", "tiny-llama-lora.gguf")
	var ids []string
	for _, id := range ref.PromptIDs {
		ids = append(ids, strconv.Itoa(int(id)))
	}
	out := filepath.Join(t.TempDir(), "l.f32")
	stdout, stderr, code := shimmer(t, "", "logits", "-m", base, "--lora", adapter+":0.5", "--ids", strings.Join(ids, " "), "-o", out, "--gen", "16")
	if code != 0 {
		t.Fatalf("logits: exit %d: %s", code, stderr)
	}
	var want []string
	for _, id := range ref.GreedyIDs {
		want = append(want, strconv.Itoa(int(id)))
	}
	if got := strings.TrimSpace(stdout); got != "gen_ids: "+strings.Join(want, " ") {
		t.Errorf("logits --lora: %q, llama.cpp %v", got, want)
	}
	rows, err := testdata.ReadF32Rows(out, ref.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	if d := testdata.MaxAbsDiff(rows[:ref.NPrompt], ref.Logits); d > 1e-3 {
		t.Errorf("logits --lora: prompt rows differ by %.3g", d)
	}

	stdout, stderr, code = shimmer(t, "", "bench", "-m", base, "--lora", adapter, "-p", "8", "-n", "4", "-r", "1", "-o", "json")
	var res []map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || len(res) != 2 {
		t.Errorf("bench --lora: exit %d, %q %s", code, stdout, stderr)
	}

	stdout, _, code = shimmer(t, "", "info", "--no-tensors", adapter)
	if code != 0 || !strings.Contains(stdout, "LoRA for a llama model, rank 4, alpha 8") || !strings.Contains(stdout, "attn_q ×3") {
		t.Errorf("info ADAPTER: exit %d\n%s", code, stdout)
	}

	other := testdata.Path(t, "models", "tiny-qwen3-lora.gguf")
	missing := filepath.Join(t.TempDir(), "none.gguf")
	for _, c := range []struct{ arg, want string }{
		{other, `for architecture "qwen3", the model is "llama"`},
		{missing, "no such file"},
		{adapter + ":nan", "not a usable scale"},
	} {
		_, stderr, code := shimmer(t, "", "run", "-m", base, "--lora", c.arg, "-n", "2", "hi")
		if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("run --lora %s: exit %d, stderr %q (want one line with %q)", c.arg, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed run created the adapter path")
	}
}

// serve without -m finds the adapters beside a model (of its
// architecture): /v1/models lists MODEL+ADAPTER, and requesting it runs
// the model with the adapter, giving llama.cpp's greedy ids; the model
// alone stays the base model; an adapter of another architecture in the
// directory is not paired and is not served as a model.
func TestServeDiscoversAdapters(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []string{"tiny-llama", "tiny-llama-lora", "tiny-qwen3-lora"} {
		if err := os.Symlink(testdata.Path(t, "models", m+".gguf"), filepath.Join(dir, m+".gguf")); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startServeArgs(t, "--models-dir", dir)
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Data []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var ids []string
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, ",") != "tiny-llama,tiny-llama+tiny-llama-lora" {
		t.Errorf("/v1/models: %v", ids)
	}
	ref := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@1.ids")
	base := testdata.LoadReference(t, "tiny-llama.ids")
	for _, c := range []struct {
		model string
		ref   *testdata.Reference
	}{{"tiny-llama+tiny-llama-lora", ref}, {"tiny-llama", base}} {
		prompt, _ := json.Marshal(c.ref.PromptIDs)
		body := fmt.Sprintf(`{"model": %q, "prompt": %s, "max_tokens": 16, "temperature": 0, "ignore_eos": true}`, c.model, prompt)
		resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Choices []struct{ Text string } `json:"choices"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(res.Choices) != 1 {
			t.Fatalf("%s: %d %v", c.model, resp.StatusCode, err)
		}
		// llama.cpp's ids as text (JSON carries each byte that is not
		// UTF-8 as U+FFFD).
		args := []string{"detokenize", "-m", testdata.Path(t, "models", "tiny-llama.gguf")}
		for _, id := range c.ref.GreedyIDs {
			args = append(args, strconv.Itoa(int(id)))
		}
		text, stderr, code := shimmer(t, "", args...)
		if code != 0 {
			t.Fatalf("detokenize: %s", stderr)
		}
		want, _ := json.Marshal(strings.TrimSuffix(text, "\n"))
		var w string
		json.Unmarshal(want, &w)
		if res.Choices[0].Text != w {
			t.Errorf("%s: %q, llama.cpp's ids %q", c.model, res.Choices[0].Text, w)
		}
	}
}
