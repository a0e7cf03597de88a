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

// serve takes llama-server's command line: its aliases (-np, -ctk, -ub,
// -s), its request defaults (--n-predict, --seed, --temp, …), --slots,
// and its internals-only flags (-ngl, -fa on, --mlock) dropped with one
// warning line; an unknown flag is still an error. With --seed 42 and
// --n-predict 64, a request that gives neither draws the 64 tokens
// llama.cpp draws with seed 42 (engine/testdata/seeded-stories260K.json).
func TestServeLlamaServerCommandLine(t *testing.T) {
	model := testdata.Path(t, "models", "stories260K.gguf")
	_, stderr, code := shimmer(t, "", "serve", "--model", model, "-ngl", "99", "-fa", "on", "--mlock", "--bogus")
	if code == 0 || !strings.Contains(stderr, "ignoring llama-server flags that tune llama.cpp's internals: -ngl 99, -fa on, --mlock") || !strings.Contains(stderr, "unknown flag: --bogus") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, url := startServeArgs(t, "--model", model, "--alias", "tinyllama-2", "--ctx-size", "256", "-np", "2", "--batch-size", "32", "-ub", "32",
		"--threads", "2", "--n-predict", "64", "-s", "42", "--temp", "0.8", "-ngl", "99", "--jinja", "--metrics", "--slots", "-fa", "on",
		"--cont-batching", "-ctk", "f32", "-ctv", "f32", "--no-mmap")
	resp, err := http.Get(url + "/slots")
	if err != nil {
		t.Fatal(err)
	}
	var slots []map[string]any
	json.NewDecoder(resp.Body).Decode(&slots)
	resp.Body.Close()
	// --ctx-size 256 is shared by the two sequences, as llama-server's.
	if len(slots) != 2 || slots[0]["n_ctx"] != 128.0 {
		t.Errorf("/slots: %v", slots)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "engine", "testdata", "seeded-stories260K.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		PromptIDs []int32 `json:"prompt_ids"`
		Seed      int
		IDs       []int32
	}
	json.Unmarshal(b, &cases)
	c := cases[1]
	if c.Seed != 42 {
		t.Fatalf("case seed %d", c.Seed)
	}
	prompt, _ := json.Marshal(c.PromptIDs)
	r, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"prompt": %s, "ignore_eos": true}`, prompt)))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Choices []struct{ Text string }
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.NewDecoder(r.Body).Decode(&res)
	r.Body.Close()
	args := []string{"detokenize", "-m", model}
	for _, id := range c.IDs {
		args = append(args, strconv.Itoa(int(id)))
	}
	text, _, _ := shimmer(t, "", args...)
	if res.Usage.CompletionTokens != 64 || len(res.Choices) != 1 || res.Choices[0].Text != strings.TrimSuffix(text, "\n") {
		t.Errorf("%d tokens %q, llama.cpp's seed-42 tokens %q", res.Usage.CompletionTokens, res.Choices, text)
	}
}
