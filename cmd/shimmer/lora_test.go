package main

import (
	"encoding/json"
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
