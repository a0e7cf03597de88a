package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/chat"
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

// /completion's n_probs, post_sampling_probs, logit_bias (llama-server's
// and OpenAI's forms), several prompts, response_fields and ignore_eos's
// biases in generation_settings, checked against each other: the greedy
// token is the top of n_probs' list; banning it gives the second of that
// list; greedy post-sampling probabilities are 1.
func TestNativeProbsAndBias(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	type prob struct {
		ID          int32   `json:"id"`
		Token       string  `json:"token"`
		Logprob     float64 `json:"logprob"`
		Prob        float64 `json:"prob"`
		TopLogprobs []prob  `json:"top_logprobs"`
		TopProbs    []prob  `json:"top_probs"`
	}
	type result struct {
		Content  string          `json:"content"`
		Tokens   []int32         `json:"tokens"`
		Probs    []prob          `json:"completion_probabilities"`
		Settings json.RawMessage `json:"generation_settings"`
	}
	complete := func(extra string) result {
		t.Helper()
		code, _, out := post(t, f.ts.URL+"/completion", `{"prompt": "Once upon a time", "n_predict": 6, "temperature": 0, "return_tokens": true`+extra+`}`)
		var r result
		if code != 200 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("%s: %d %s", extra, code, out)
		}
		return r
	}
	base := complete(`, "n_probs": 5`)
	if len(base.Probs) != 6 {
		t.Fatalf("completion_probabilities: %+v", base.Probs)
	}
	for i, p := range base.Probs {
		top := p.TopLogprobs
		if p.ID != base.Tokens[i] || len(top) != 5 || top[0].ID != p.ID || top[0].Logprob != p.Logprob || p.Logprob > 0 ||
			!slices.IsSortedFunc(top, func(a, b prob) int { return cmpDesc(a.Logprob, b.Logprob) }) {
			t.Errorf("token %d: %+v", i, p)
		}
	}
	first, second := base.Tokens[0], base.Probs[0].TopLogprobs[1].ID
	for _, bias := range []string{fmt.Sprintf(`[[%d, false]]`, first), fmt.Sprintf(`{"%d": -100}`, first), fmt.Sprintf(`[[%q, false]]`, base.Probs[0].Token)} {
		r := complete(`, "logit_bias": ` + bias)
		if len(r.Tokens) == 0 || r.Tokens[0] != second {
			t.Errorf("logit_bias %s: tokens %v, the second likeliest first token is %d", bias, r.Tokens, second)
		}
	}
	post1 := complete(`, "n_probs": 3, "post_sampling_probs": true`)
	for i, p := range post1.Probs {
		if p.ID != post1.Tokens[i] || p.Prob != 1 || len(p.TopProbs) != 1 || p.TopProbs[0].ID != p.ID {
			t.Errorf("greedy post-sampling token %d: %+v", i, p)
		}
	}
	// Two prompts: a list of two answers.
	code, _, out := post(t, f.ts.URL+"/completion", `{"prompt": ["Once upon a time", [1, 403]], "n_predict": 4, "temperature": 0}`)
	var two []result
	if code != 200 || json.Unmarshal([]byte(out), &two) != nil || len(two) != 2 || two[0].Content != base.Content[:len(two[0].Content)] {
		t.Errorf("two prompts: %d %s", code, out)
	}
	code, _, out = post(t, f.ts.URL+"/completion", `{"prompt": "Once", "n_predict": 2, "response_fields": ["content", "generation_settings/n_predict"]}`)
	var some map[string]any
	if code != 200 || json.Unmarshal([]byte(out), &some) != nil || len(some) != 2 || some["generation_settings/n_predict"] != 2.0 {
		t.Errorf("response_fields: %d %s", code, out)
	}
	var gs struct {
		LogitBias []struct {
			Token int32
			Bias  *float64
		} `json:"logit_bias"`
	}
	json.Unmarshal(complete(`, "ignore_eos": true`).Settings, &gs)
	if eog := f.e.Tokenizer().EOG(); len(gs.LogitBias) != len(eog) || gs.LogitBias[0].Bias != nil || gs.LogitBias[0].Token != eog[0] {
		t.Errorf("ignore_eos: logit_bias %+v, EOG tokens %v", gs.LogitBias, eog)
	}
	for _, bad := range []string{`{"1": "a"}`, `[[1, "a"]]`, `{"999999": 1}`, `[[[1], 1]]`} {
		if code, _, out := post(t, f.ts.URL+"/completion", `{"prompt": "Once", "n_predict": 1, "logit_bias": `+bad+`}`); code != 400 {
			t.Errorf("logit_bias %s: %d %s", bad, code, out)
		}
	}
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// llama-server's chat fields: a final assistant message is continued (the
// prompt is the template's rendering of the turns before it, with the
// generation prompt, then that message's text, as __verbose shows);
// continue_final_message with add_generation_prompt, or two final
// assistant messages, are refused; /chat/completions/input_tokens counts
// the prompt; a prompt over the context is exceed_context_size_error with
// its sizes; timings_per_token puts timings on the stream's last chunks.
func TestChatLlamaServerFields(t *testing.T) {
	f := newFixture(t, engine.Options{Context: 128}, Options{ChatTemplate: mustBuiltin(t, "chatml")})
	tpl := mustBuiltin(t, "chatml")
	turns := `[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Once"}, {"type": "text", "text": "upon"}]}]`
	code, _, out := post(t, f.ts.URL+"/v1/chat/completions", `{"max_tokens": 2, "verbose": true, "messages": `+turns+`}`)
	var res struct {
		Verbose struct{ Prompt string } `json:"__verbose"`
		Usage   struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if code != 200 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("%d %s", code, out)
	}
	head, err := tpl.Render([]chat.Message{{Role: "user", Content: "Hi"}}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.e.Tokenizer()
	want := tok.Encode(head+"Once\n\nupon", true, true)
	if res.Verbose.Prompt != tok.Decode(want, true) || res.Usage.PromptTokens != len(want) {
		t.Errorf("prefilled prompt %q (%d tokens), want %q (%d)", res.Verbose.Prompt, res.Usage.PromptTokens, tok.Decode(want, true), len(want))
	}
	code, _, out = post(t, f.ts.URL+"/v1/chat/completions/input_tokens", `{"messages": `+turns+`}`)
	if code != 200 || out != fmt.Sprintf("{\"input_tokens\":%d}\n", len(want)) {
		t.Errorf("input_tokens: %d %s, want %d", code, out, len(want))
	}
	for _, body := range []string{
		`{"messages": ` + turns + `, "continue_final_message": true, "add_generation_prompt": true}`,
		`{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}`,
	} {
		if code, _, out := post(t, f.ts.URL+"/v1/chat/completions", body); code != 400 {
			t.Errorf("%s: %d %s", body, code, out)
		}
	}
	code, _, out = post(t, f.ts.URL+"/v1/chat/completions", `{"messages": [{"role": "user", "content": "`+strings.Repeat("story time ", 200)+`"}]}`)
	var e struct {
		Error struct {
			Type    string
			Code    string
			NPrompt int `json:"n_prompt_tokens"`
			NCtx    int `json:"n_ctx"`
		}
	}
	if code != 400 || json.Unmarshal([]byte(out), &e) != nil || e.Error.Type != "exceed_context_size_error" || e.Error.Code != "context_length_exceeded" || e.Error.NPrompt <= 128 || e.Error.NCtx != 128 {
		t.Errorf("too long: %d %s", code, out)
	}
	code, _, out = post(t, f.ts.URL+"/v1/chat/completions", `{"max_tokens": 3, "stream": true, "timings_per_token": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]}`)
	if code != 200 || strings.Count(out, `"predicted_n":3`) != 2 || !strings.HasPrefix(out, `data: {"id"`) || !strings.Contains(strings.SplitN(out, "\n", 2)[0], `"delta":{"role":"assistant","content":null}`) {
		t.Errorf("stream with timings: %d %s", code, out)
	}
}

func mustBuiltin(t *testing.T, name string) *chat.Template {
	t.Helper()
	tpl, err := chat.Builtin(name, "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// return_progress streams llama-server's prompt_progress: one report when
// the request gets its sequence (the cached tokens processed), then one
// per prompt chunk of --batch-size tokens, the last at the whole prompt,
// all before the first token.
func TestChatPromptProgress(t *testing.T) {
	f := newFixture(t, engine.Options{BatchSize: 16, Sequences: 1}, Options{})
	msgs := `[{"role": "user", "content": "` + strings.Repeat("This is a test", 10) + `"}]`
	_, _, out := post(t, f.ts.URL+"/v1/chat/completions/input_tokens", `{"messages": `+msgs+`}`)
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	json.Unmarshal([]byte(out), &n)
	code, _, out := post(t, f.ts.URL+"/v1/chat/completions", `{"max_tokens": 2, "stream": true, "return_progress": true, "messages": `+msgs+`}`)
	type report struct{ Total, Cache, Processed int }
	var got []report
	content := false
	for _, line := range strings.Split(out, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices  []struct{ Delta struct{ Content *string } }
			Progress *report `json:"prompt_progress"`
		}
		json.Unmarshal([]byte(data), &c)
		if c.Progress != nil {
			if content {
				t.Errorf("progress after content: %s", data)
			}
			got = append(got, *c.Progress)
		}
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil && *c.Choices[0].Delta.Content != "" {
			content = true
		}
	}
	want := []report{{n.InputTokens, 0, 0}}
	for p := 16; p < n.InputTokens; p += 16 {
		want = append(want, report{n.InputTokens, 0, p})
	}
	want = append(want, report{n.InputTokens, 0, n.InputTokens})
	if code != 200 || !slices.Equal(got, want) || n.InputTokens < 32 {
		t.Errorf("progress %v, want %v (%d)", got, want, code)
	}
}

// With ContextShift (--context-shift) a completion longer than the
// context goes on, truncated; without it, it stops at the full context.
func TestNativeContextShift(t *testing.T) {
	for _, shift := range []bool{true, false} {
		f := newFixture(t, engine.Options{Context: 32}, Options{ContextShift: shift})
		code, _, out := post(t, f.ts.URL+"/completion", `{"prompt": "Once upon a time", "n_predict": 50, "ignore_eos": true}`)
		var res nativeResult
		if code != 200 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("%d %s", code, out)
		}
		want := 50
		if !shift {
			want = 32 - res.TokensEvaluated
		}
		if res.TokensPredicted != want || res.Truncated == nil || !*res.Truncated {
			t.Errorf("context shift %v: %d tokens, truncated %v (want %d, truncated)", shift, res.TokensPredicted, res.Truncated, want)
		}
	}
}
