package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func TestMain(m *testing.M) {
	// Every test here runs a model from the reference data.
	testdata.Require("server")
	os.Exit(m.Run())
}

const model = "stories260K"

// fixture is a server over stories260K with an OpenAI client for it.
type fixture struct {
	e      *engine.Engine
	s      *Server
	ts     *httptest.Server
	client openai.Client
}

func newFixture(t testing.TB, eo engine.Options, so Options) *fixture {
	t.Helper()
	return newModelFixture(t, model, eo, so)
}

// newModelFixture is newFixture over another model of the reference data.
func newModelFixture(t testing.TB, model string, eo engine.Options, so Options) *fixture {
	t.Helper()
	if eo.Threads == 0 {
		eo.Threads = 2
	}
	e, err := engine.Load(testdata.Path(t, "models", model+".gguf"), eo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if so.ModelName == "" {
		so.ModelName = model
	}
	s, err := New(e, so)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	opts := []option.RequestOption{option.WithBaseURL(ts.URL + "/v1/"), option.WithMaxRetries(0)}
	if so.APIKey != "" {
		opts = append(opts, option.WithAPIKey(so.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("unused"))
	}
	return &fixture{e: e, s: s, ts: ts, client: openai.NewClient(opts...)}
}

// greedy is what `shimmer run --temp 0 -n n` prints for prompt.
func greedy(t testing.TB, e *engine.Engine, prompt string, n int) string {
	t.Helper()
	var b strings.Builder
	if _, err := e.Generate(context.Background(), prompt, engine.GenerateOptions{MaxTokens: n},
		func(tok engine.Token) error { b.WriteString(tok.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func completion(prompt string, n int64) openai.CompletionNewParams {
	return openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel(model),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		MaxTokens:   openai.Int(n),
		Temperature: openai.Float(0),
	}
}

// Greedy text through /v1/completions is llama.cpp's reference and the
// engine's own (what `shimmer run --temp 0` prints).
func TestCompletionMatchesReference(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	ref := testdata.LoadReference(t, model+".text-once")
	resp, err := f.client.Completions.New(context.Background(), completion(ref.PromptText, 32))
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Choices[0].Text
	if got != ref.GreedyText {
		t.Errorf("text\n got %q\nwant %q", got, ref.GreedyText)
	}
	if want := greedy(t, f.e, ref.PromptText, 32); got != want {
		t.Errorf("API %q, engine %q", got, want)
	}
	if resp.Choices[0].FinishReason != "length" || resp.Usage.PromptTokens != int64(len(ref.PromptIDs)) || resp.Usage.CompletionTokens != 32 ||
		resp.Usage.TotalTokens != resp.Usage.PromptTokens+32 || resp.Model != model || resp.Object != "text_completion" {
		t.Errorf("response %s", resp.RawJSON())
	}

	// Streamed: the same text in pieces, then the finish and the usage.
	params := completion(ref.PromptText, 32)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := f.client.Completions.NewStreaming(context.Background(), params)
	var text strings.Builder
	var finish string
	var u openai.CompletionUsage
	chunks := 0
	for st.Next() {
		c := st.Current()
		chunks++
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
			if ch.FinishReason != "" {
				finish = string(ch.FinishReason)
			}
		}
		if c.Usage.TotalTokens > 0 {
			u = c.Usage
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != ref.GreedyText || finish != "length" || u.CompletionTokens != 32 || chunks < 3 {
		t.Errorf("stream: %q finish %q usage %+v in %d chunks", text.String(), finish, u, chunks)
	}

	// A prompt of token ids gives the same.
	ids := make([]int64, len(ref.PromptIDs))
	for i, id := range ref.PromptIDs {
		ids[i] = int64(id)
	}
	params = completion("", 32)
	params.Prompt = openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: ids}
	resp, err = f.client.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Text != ref.GreedyText {
		t.Errorf("token prompt: %q", resp.Choices[0].Text)
	}
}

func chatParams(n int64, msgs ...openai.ChatCompletionMessageParamUnion) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:       model,
		Messages:    msgs,
		MaxTokens:   openai.Int(n),
		Temperature: openai.Float(0),
	}
}

func TestChat(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	if f.s.ChatTemplate().Name() != "chatml" {
		t.Fatalf("stories260K has no template: want the chatml default, got %s", f.s.ChatTemplate().Name())
	}
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You tell stories."), openai.UserMessage("Once upon a time")}
	resp, err := f.client.Chat.Completions.New(context.Background(), chatParams(20, msgs...))
	if err != nil {
		t.Fatal(err)
	}
	// The same as generating from the rendered prompt.
	prompt := "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"
	want := greedy(t, f.e, prompt, 20)
	c := resp.Choices[0]
	if c.Message.Content != want || c.Message.Role != "assistant" || resp.Object != "chat.completion" {
		t.Errorf("chat %q, engine %q (%s)", c.Message.Content, want, resp.RawJSON())
	}
	if c.FinishReason != "length" && c.FinishReason != "stop" {
		t.Errorf("finish %q", c.FinishReason)
	}
	nPrompt := int64(len(f.e.Tokenizer().Encode(prompt, true, true)))
	if resp.Usage.PromptTokens != nPrompt || resp.Usage.TotalTokens != nPrompt+resp.Usage.CompletionTokens {
		t.Errorf("usage %+v, prompt %d tokens", resp.Usage, nPrompt)
	}

	// Streamed: role first, the same content, a finish, usage, [DONE].
	params := chatParams(20, msgs...)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := f.client.Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	role := ""
	for st.Next() {
		chunk := st.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Role != "" {
			role = chunk.Choices[0].Delta.Role
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) == 0 || acc.Choices[0].Message.Content != want || role != "assistant" ||
		acc.Choices[0].FinishReason != c.FinishReason || acc.Usage.CompletionTokens != resp.Usage.CompletionTokens {
		t.Errorf("stream: %+v", acc.ChatCompletion)
	}

	// max_completion_tokens wins over nothing; developer is system.
	params = chatParams(0, openai.DeveloperMessage("You tell stories."), openai.UserMessage("Once upon a time"))
	params.MaxTokens = param.Opt[int64]{}
	params.MaxCompletionTokens = openai.Int(5)
	resp, err = f.client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.CompletionTokens > 5 || !strings.HasPrefix(want, resp.Choices[0].Message.Content) {
		t.Errorf("max_completion_tokens 5: %q, %d tokens", resp.Choices[0].Message.Content, resp.Usage.CompletionTokens)
	}
}

func TestStopStrings(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	ref := testdata.LoadReference(t, model+".text-once")
	for _, stream := range []bool{false, true} {
		params := completion(ref.PromptText, 32)
		params.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: []string{"zebra", "Lily"}}
		var text, finish string
		if !stream {
			resp, err := f.client.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			text, finish = resp.Choices[0].Text, string(resp.Choices[0].FinishReason)
		} else {
			st := f.client.Completions.NewStreaming(context.Background(), params)
			for st.Next() {
				for _, c := range st.Current().Choices {
					text += c.Text
					if c.FinishReason != "" {
						finish = string(c.FinishReason)
					}
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
		}
		want := ref.GreedyText[:strings.Index(ref.GreedyText, "Lily")]
		if text != want || finish != "stop" {
			t.Errorf("stream %v: %q (%s), want %q", stream, text, finish, want)
		}
	}
	// A single string too, in chat.
	params := chatParams(32, openai.UserMessage("Once upon a time"))
	params.Stop = openai.ChatCompletionNewParamsStopUnion{OfString: openai.String(".")}
	resp, err := f.client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(resp.Choices[0].Message.Content, ".") {
		t.Errorf("stop text emitted: %q", resp.Choices[0].Message.Content)
	}
}

func TestLogprobs(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	params := chatParams(8, openai.UserMessage("Once upon a time"))
	params.Logprobs = openai.Bool(true)
	params.TopLogprobs = openai.Int(3)
	resp, err := f.client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	lp := resp.Choices[0].Logprobs.Content
	if len(lp) != int(resp.Usage.CompletionTokens) || len(lp) == 0 {
		t.Fatalf("%d logprobs for %d tokens", len(lp), resp.Usage.CompletionTokens)
	}
	var joined strings.Builder
	for _, e := range lp {
		joined.WriteString(e.Token)
		// Greedy: the chosen token is the most likely one.
		if len(e.TopLogprobs) != 3 || e.TopLogprobs[0].Logprob != e.Logprob || e.Logprob > 0 || string(byteSlice(e.Bytes)) != e.Token {
			t.Errorf("entry %+v", e)
		}
	}
	if joined.String() != resp.Choices[0].Message.Content {
		t.Errorf("tokens %q, content %q", joined.String(), resp.Choices[0].Message.Content)
	}

	cp := completion("Once upon a time", 6)
	cp.Logprobs = openai.Int(2)
	cr, err := f.client.Completions.New(context.Background(), cp)
	if err != nil {
		t.Fatal(err)
	}
	l := cr.Choices[0].Logprobs
	if len(l.Tokens) != 6 || len(l.TokenLogprobs) != 6 || len(l.TopLogprobs) != 6 || len(l.TextOffset) != 6 || l.TextOffset[0] != 0 {
		t.Errorf("completion logprobs %s", cr.Choices[0].Logprobs.RawJSON())
	}
}

func byteSlice(b []int64) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = byte(v)
	}
	return out
}

// A second request sharing a prefix reuses it from the cache.
func TestPromptCache(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You tell short stories about a dog."), openai.UserMessage("Once upon a time")}
	first, err := f.client.Chat.Completions.New(context.Background(), chatParams(4, msgs...))
	if err != nil {
		t.Fatal(err)
	}
	msgs[1] = openai.UserMessage("The little dog")
	second, err := f.client.Chat.Completions.New(context.Background(), chatParams(4, msgs...))
	if err != nil {
		t.Fatal(err)
	}
	if first.Usage.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("first request: %d cached tokens", first.Usage.PromptTokensDetails.CachedTokens)
	}
	// The system turn and the user header are shared.
	if c := second.Usage.PromptTokensDetails.CachedTokens; c < 10 || c >= second.Usage.PromptTokens {
		t.Errorf("second request: %d cached of %d", c, second.Usage.PromptTokens)
	}
	body := get(t, f.ts.URL+"/metrics", "")
	if !strings.Contains(body, "shimmer_prompt_tokens_cached_total") || strings.Contains(body, "shimmer_prompt_tokens_cached_total 0\n") {
		t.Errorf("metrics do not count cached tokens:\n%s", grepLines(body, "cached"))
	}
}

func get(t testing.TB, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// post sends a raw JSON body and returns the status, headers and body.
func post(t testing.TB, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestErrors(t *testing.T) {
	f := newFixture(t, engine.Options{Context: 64}, Options{MaxBodyBytes: 1 << 12})
	chatURL := f.ts.URL + "/v1/chat/completions"
	long := strings.Repeat("Once upon a time there was a dog. ", 20)
	cases := []struct {
		url, body string
		status    int
		param     string
	}{
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"n":9}`, 400, "n"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"n":2,"stream":true}`, 400, "n"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"temperature":3}`, 400, "temperature"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}`, 400, "temperature"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, 400, "max_tokens"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"top_logprobs":2}`, 400, "top_logprobs"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"stop":5}`, 400, "stop"},
		{chatURL, `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}`, 400, "tools[0].function.name"},
		{chatURL, `{"messages":[]}`, 400, "messages"},
		{chatURL, `{"messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role"},
		{chatURL, `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "messages[0].content[0].type"},
		{chatURL, `{"messages":[{"role":"user","content":"` + long + `"}]}`, 400, "messages"},
		{chatURL, `{"messages": [`, 400, ""},
		{chatURL, `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, 413, ""},
		{f.ts.URL + "/v1/completions", `{"prompt":"` + long + `"}`, 400, "prompt"},
		{f.ts.URL + "/v1/completions", `{"prompt":[1, 99999]}`, 400, "prompt"},
		{f.ts.URL + "/v1/completions", `{"prompt":["a","b"]}`, 400, "prompt"},
		{f.ts.URL + "/v1/completions", `{}`, 400, "prompt"},
		{f.ts.URL + "/v1/nothing", `{}`, 404, ""},
	}
	for _, c := range cases {
		status, _, body := post(t, c.url, c.body)
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || status != c.status || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%.80s: %d %s", c.body, status, body)
			continue
		}
		param := ""
		if e.Error.Param != nil {
			param = *e.Error.Param
		}
		if param != c.param {
			t.Errorf("%.80s: param %q, want %q (%s)", c.body, param, c.param, e.Error.Message)
		}
		if c.param == "messages" && strings.Contains(c.body, long) && (e.Error.Code == nil || *e.Error.Code != "context_length_exceeded") {
			t.Errorf("prompt too long: %s", body)
		}
	}
	// Through the SDK: the error names the parameter; n=3 gives three
	// choices, generated together, each with its own draws.
	params := chatParams(4, openai.UserMessage("hi"))
	params.N = openai.Int(9)
	_, err := f.client.Chat.Completions.New(context.Background(), params)
	var apierr *openai.Error
	if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Param != "n" {
		t.Errorf("n=9: %v", err)
	}
	params.N, params.Temperature = openai.Int(3), openai.Float(1)
	res, err := f.client.Chat.Completions.New(context.Background(), params)
	if err != nil || len(res.Choices) != 3 || res.Usage.CompletionTokens != 12 {
		t.Fatalf("n=3: %v %+v", err, res)
	}
	for i, c := range res.Choices {
		if c.Index != int64(i) || c.FinishReason != "length" {
			t.Errorf("n=3 choice %d: %+v", i, c)
		}
	}
	// Wrong method.
	resp, err := http.Get(chatURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET chat: %s", resp.Status)
	}
}

func TestAPIKey(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{APIKey: "sesame"})
	// The SDK sends the key.
	if _, err := f.client.Models.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "Bearer wrong"} {
		status, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":1}`, "Authorization", key)
		if status != 401 || !strings.Contains(body, "invalid_api_key") {
			t.Errorf("key %q: %d %s", key, status, body)
		}
	}
	status, _, _ := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":1}`, "Authorization", "Bearer sesame")
	if status != 200 {
		t.Errorf("right key: %d", status)
	}
	// /health and the list of models need no key (as llama-server's);
	// one model's entry does.
	get(t, f.ts.URL+"/health", "")
	get(t, f.ts.URL+"/v1/models", "")
	if r, err := http.Get(f.ts.URL + "/v1/models/" + model); err != nil || r.StatusCode != 401 {
		t.Errorf("GET /v1/models/%s without the key: %v %v", model, r, err)
	} else {
		r.Body.Close()
	}
	get(t, f.ts.URL+"/metrics", "sesame")
}

func TestModelsHealthTokenize(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	page, err := f.client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != model || page.Data[0].Object != "model" {
		t.Errorf("models %s", page.RawJSON())
	}
	if m, err := f.client.Models.Get(context.Background(), model); err != nil || m.ID != model {
		t.Errorf("model: %v %v", m, err)
	}
	if _, err := f.client.Models.Get(context.Background(), "gpt-5"); err == nil {
		t.Error("an unknown model was found")
	}
	if h := get(t, f.ts.URL+"/health", ""); !strings.Contains(h, `"status":"ok"`) {
		t.Errorf("health %s", h)
	}
	ref := testdata.LoadReference(t, model+".text-once")
	status, _, body := post(t, f.ts.URL+"/tokenize", `{"content":"Once upon a time","add_special":true}`)
	if want := fmt.Sprintf(`{"tokens":%s}`, strings.ReplaceAll(fmt.Sprint(ref.PromptIDs), " ", ",")); status != 200 || strings.TrimSpace(body) != want {
		t.Errorf("tokenize: %d %s, want %s", status, body, want)
	}
	status, _, body = post(t, f.ts.URL+"/tokenize", `{"content":"Once","with_pieces":true}`)
	if status != 200 || !strings.Contains(body, `"piece":"`) {
		t.Errorf("tokenize with pieces: %d %s", status, body)
	}
	ids, _ := json.Marshal(ref.GreedyIDs)
	status, _, body = post(t, f.ts.URL+"/detokenize", `{"tokens":`+string(ids)+`}`)
	var d struct{ Content string }
	json.Unmarshal([]byte(body), &d)
	if status != 200 || strings.TrimSpace(d.Content) != strings.TrimSpace(ref.GreedyText) {
		t.Errorf("detokenize: %d %q", status, d.Content)
	}
	metrics := get(t, f.ts.URL+"/metrics", "")
	for _, name := range []string{"shimmer_http_requests_total", "shimmer_queue_depth", "shimmer_generation_tokens_per_second",
		"shimmer_kv_cache_usage_ratio", "shimmer_generated_tokens_total", "shimmer_sequences", "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}
