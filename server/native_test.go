package server

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/gguf"
	smodel "github.com/shimmer-llm/shimmer/model"
)

// llama-server's POST /completion: n_predict, seed, return_tokens and its
// response fields; with seed 42 it returns the tokens llama.cpp draws
// with seed 42 (engine/testdata/seeded-stories260K.json, F32 cache); the
// stream's chunks make up the same text and end with the final object,
// without [DONE]; n_predict 0 predicts nothing. GET /props and POST
// /apply-template answer in llama-server's shape.
func TestNativeEndpoints(t *testing.T) {
	f := newFixture(t, engine.Options{CacheTypes: smodel.CacheTypes{K: gguf.TypeF32, V: gguf.TypeF32}}, Options{})
	b, err := os.ReadFile("../engine/testdata/seeded-stories260K.json")
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
	prompt, _ := json.Marshal(c.PromptIDs)
	body := `{"prompt": ` + string(prompt) + `, "n_predict": 64, "seed": 42, "return_tokens": true, "ignore_eos": true, "cache_prompt": true}`
	code, _, out := post(t, f.ts.URL+"/completion", body)
	var res nativeResult
	if code != 200 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("%d %s", code, out)
	}
	if !slices.Equal(res.Tokens, c.IDs) || !res.Stop || res.TokensPredicted != 64 || res.TokensEvaluated != len(c.PromptIDs) ||
		res.StopType != "limit" || res.Settings["seed"] != 42.0 || res.Settings["n_predict"] != 64.0 || res.Timings["predicted_n"] != 64.0 {
		t.Errorf("response %+v; llama.cpp's tokens %v", res, c.IDs)
	}
	// The stream: same text, the final object last, no [DONE].
	code, _, out = post(t, f.ts.URL+"/completions", strings.Replace(body, `"return_tokens": true`, `"stream": true`, 1))
	var text string
	var last nativeResult
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			t.Fatalf("stream line %q", line)
		}
		var chunk nativeResult
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatal(err)
		}
		text += chunk.Content
		last = chunk
	}
	if code != 200 || text != res.Content || !last.Stop || last.TokensPredicted != 64 || last.StopType != "limit" {
		t.Errorf("stream: %d, text %q (non-streamed %q), last %+v", code, text, res.Content, last)
	}
	// Mixed prompts, n_predict 0.
	code, _, out = post(t, f.ts.URL+"/completion", `{"prompt": ["Once upon", 264, " time"], "n_predict": 0}`)
	if code != 200 || !strings.Contains(out, `"tokens_predicted":0`) || !strings.Contains(out, `"content":""`) {
		t.Errorf("n_predict 0: %d %s", code, out)
	}
	var props map[string]any
	if err := json.Unmarshal([]byte(get(t, f.ts.URL+"/props", "")), &props); err != nil || props["total_slots"] != 1.0 || props["chat_template"] == "" {
		t.Errorf("/props: %v %v", props, err)
	}
	code, _, out = post(t, f.ts.URL+"/apply-template", `{"messages": [{"role": "user", "content": "hi"}]}`)
	if code != 200 || !strings.Contains(out, `hi`) || !strings.Contains(out, `"prompt"`) {
		t.Errorf("/apply-template: %d %s", code, out)
	}
	if code, _, _ := post(t, f.ts.URL+"/props", `{}`); code != 403 {
		t.Errorf("POST /props: %d", code)
	}
}
