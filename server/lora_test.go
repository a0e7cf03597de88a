package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// completionText posts a greedy completion of ids with extra fields and
// returns its text.
func completionText(t *testing.T, url, model string, ids []int32, extra string) string {
	t.Helper()
	b, _ := json.Marshal(ids)
	body := fmt.Sprintf(`{"model": %q, "prompt": %s, "max_tokens": 16, "temperature": 0, "ignore_eos": true%s}`, model, b, extra)
	code, _, out := post(t, url+"/v1/completions", body)
	if code != 200 {
		t.Fatalf("completion (%s): %d %s", extra, code, out)
	}
	var res struct {
		Choices []struct{ Text string } `json:"choices"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Choices) != 1 {
		t.Fatalf("completion: %v %s", err, out)
	}
	return res.Choices[0].Text
}

// A server with an adapter: GET/POST /lora-adapters as llama-server's,
// a per-request "lora" list, MODEL+ADAPTER, and two requests at once (one
// with the adapter at scale 1, one without) each giving what it gives
// alone: llama.cpp's greedy text with the adapter, the base's without.
func TestLoRAServer(t *testing.T) {
	ref := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@1.ids")
	base := testdata.LoadReference(t, "tiny-llama.ids")
	adapter := testdata.Path(t, "models", "tiny-llama-lora.gguf")
	f := newModelFixture(t, "tiny-llama", engine.Options{Sequences: 2, LoRA: []engine.LoRA{{Path: adapter, Scale: 1}}}, Options{})
	tok := f.e.Tokenizer()
	// JSON carries each byte that is not UTF-8 as U+FFFD.
	asJSON := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r)
			i += n
		}
		return b.String()
	}
	withText, baseText := asJSON(tok.Decode(ref.GreedyIDs, false)), asJSON(tok.Decode(base.GreedyIDs, false))
	if withText == baseText {
		t.Fatal("the adapter does not change the greedy text")
	}

	var list []loraAdapter
	if err := json.Unmarshal([]byte(get(t, f.ts.URL+"/lora-adapters", "")), &list); err != nil || len(list) != 1 || list[0].ID != 0 || list[0].Scale != 1 || list[0].Path != adapter {
		t.Fatalf("GET /lora-adapters: %+v %v", list, err)
	}
	on, off := `, "lora": [{"id": 0, "scale": 1}]`, `, "lora": []`
	if got := completionText(t, f.ts.URL, "tiny-llama", ref.PromptIDs, ""); got != withText {
		t.Errorf("default scale 1: %q, llama.cpp %q", got, withText)
	}
	if got := completionText(t, f.ts.URL, "tiny-llama", base.PromptIDs, off); got != baseText {
		t.Errorf(`"lora": []: %q, the base model's %q`, got, baseText)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if got := completionText(t, f.ts.URL, "tiny-llama", ref.PromptIDs, on); got != withText {
				t.Errorf("concurrent, with the adapter: %q, alone %q", got, withText)
			}
		}()
		go func() {
			defer wg.Done()
			if got := completionText(t, f.ts.URL, "tiny-llama", base.PromptIDs, off); got != baseText {
				t.Errorf("concurrent, without: %q, alone %q", got, baseText)
			}
		}()
	}
	wg.Wait()

	// POST sets the defaults: scale 0, then MODEL+ADAPTER turns it on.
	if code, _, out := post(t, f.ts.URL+"/lora-adapters", `[{"id": 0, "scale": 0}]`); code != 200 || !strings.Contains(out, `"success":true`) {
		t.Fatalf("POST /lora-adapters: %d %s", code, out)
	}
	if got := completionText(t, f.ts.URL, "tiny-llama", base.PromptIDs, ""); got != baseText {
		t.Errorf("default scale 0: %q, the base model's %q", got, baseText)
	}
	if got := completionText(t, f.ts.URL, "tiny-llama+tiny-llama-lora", ref.PromptIDs, ""); got != withText {
		t.Errorf("MODEL+ADAPTER: %q, llama.cpp %q", got, withText)
	}
	models := get(t, f.ts.URL+"/v1/models", "")
	if !strings.Contains(models, `"tiny-llama+tiny-llama-lora"`) {
		t.Errorf("/v1/models does not list MODEL+ADAPTER: %s", models)
	}

	for _, c := range []struct {
		path, body string
		code       int
		want       string
	}{
		{"/v1/completions", `{"model": "tiny-llama", "prompt": "a", "lora": [{"id": 1, "scale": 1}]}`, 400, "adapter id 1 does not exist"},
		{"/v1/completions", `{"model": "tiny-llama", "prompt": "a", "lora": [{"scale": 1}]}`, 400, "has no 'id'"},
		{"/v1/completions", `{"model": "tiny-llama", "prompt": "a", "lora": {"id": 0}}`, 400, "lora"},
		{"/v1/completions", `{"model": "tiny-llama+nope", "prompt": "a"}`, 404, "no LoRA adapter 'nope'"},
		{"/lora-adapters", `{"id": 0}`, 400, ""},
		{"/lora-adapters", `[{"id": 5, "scale": 1}]`, 400, "adapter id 5"},
	} {
		code, _, out := post(t, f.ts.URL+c.path, c.body)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("POST %s %s: %d %s (want %d with %q)", c.path, c.body, code, out, c.code, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, f.ts.URL+"/lora-adapters", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("DELETE /lora-adapters: %v %v", resp.StatusCode, err)
	}
}
