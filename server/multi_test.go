package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// multiFixture serves stories260K and tiny-llama from one NewMulti server,
// counting loads and recording the most models loaded at once.
type multiFixture struct {
	s       *Server
	ts      *httptest.Server
	loads   map[string]*atomic.Int32
	maxSeen atomic.Int32
}

func newMultiFixture(t *testing.T, po PoolOptions, names ...string) *multiFixture {
	t.Helper()
	f := &multiFixture{loads: map[string]*atomic.Int32{}}
	var models []Model
	for _, n := range names {
		path := testdata.Path(t, "models", n+".gguf")
		cnt := &atomic.Int32{}
		f.loads[n] = cnt
		models = append(models, Model{Name: n, Path: path, Details: DescribeModel("llama", 1, "F32"), Load: func(context.Context) (*engine.Engine, *chat.Template, error) {
			cnt.Add(1)
			e, err := engine.Load(path, engine.Options{Threads: 2, Sequences: 2})
			return e, nil, err
		}})
	}
	s, err := NewMulti(models, po, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	// Watch how many models are loaded at every request's end.
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r)
		s.models.mu.Lock()
		n := int32(0)
		for _, sl := range s.models.slots {
			if sl.b != nil {
				n++
			}
		}
		s.models.mu.Unlock()
		for {
			if m := f.maxSeen.Load(); n <= m || f.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
	}))
	t.Cleanup(func() { f.ts.Close(); s.Close() })
	return f
}

// storiesText asks stories260K for llama.cpp's greedy continuation of the
// text-once prompt through the OpenAI client.
func storiesText(t *testing.T, c openai.Client, model string, ref *testdata.Reference) (string, error) {
	resp, err := c.Completions.New(context.Background(), openai.CompletionNewParams{
		Model: openai.CompletionNewParamsModel(model), Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(ref.PromptText)},
		MaxTokens: openai.Int(int64(ref.NGen)), Temperature: openai.Float(0)})
	if err != nil {
		return "", err
	}
	if resp.Model != model {
		return "", fmt.Errorf("answered by %q", resp.Model)
	}
	return resp.Choices[0].Text, nil
}

// llamaIDs asks tiny-llama for its greedy ids after the reference prompt
// ids through ollama's /api/generate (raw, the prompt as context).
func llamaIDs(t *testing.T, url string, ref *testdata.Reference) ([]int32, error) {
	body, _ := json.Marshal(map[string]any{"model": "tiny-llama", "raw": true, "stream": false, "context": ref.PromptIDs,
		"options": map[string]any{"temperature": 0, "num_predict": ref.NGen, "repeat_penalty": 1}})
	resp, err := http.Post(url+"/api/generate", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Model   string  `json:"model"`
		Context []int32 `json:"context"`
		Error   string  `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || out.Model != "tiny-llama" {
		return nil, fmt.Errorf("status %d, %+v, %v", resp.StatusCode, out, err)
	}
	return out.Context[len(ref.PromptIDs):], nil
}

// TestMultiModel serves two models from one server under --max-loaded 1:
// requests alternating between them, sequential and concurrent, are each
// answered by the model they name with llama.cpp's greedy output for it;
// never more than one model is loaded; an unknown model is 404.
func TestMultiModel(t *testing.T) {
	f := newMultiFixture(t, PoolOptions{MaxLoaded: 1}, "stories260K", "tiny-llama")
	c := openai.NewClient(option.WithBaseURL(f.ts.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	stories := testdata.LoadReference(t, "stories260K.text-once")
	llama := testdata.LoadReference(t, "tiny-llama.ids")

	page, err := c.Models.List(context.Background())
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != "stories260K" || page.Data[1].ID != "tiny-llama" {
		t.Fatalf("models: %+v %v", page, err)
	}
	check := func(which int) error {
		if which == 0 {
			got, err := storiesText(t, c, "stories260K", stories)
			if err == nil && got != stories.GreedyText {
				err = fmt.Errorf("stories260K: %q, want %q", got, stories.GreedyText)
			}
			return err
		}
		got, err := llamaIDs(t, f.ts.URL, llama)
		if err == nil && fmt.Sprint(got) != fmt.Sprint(llama.GreedyIDs) {
			err = fmt.Errorf("tiny-llama: %v, want %v", got, llama.GreedyIDs)
		}
		return err
	}
	for i := 0; i < 6; i++ {
		if err := check(i % 2); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if a, b := f.loads["stories260K"].Load(), f.loads["tiny-llama"].Load(); a != 3 || b != 3 {
		t.Fatalf("alternating requests loaded stories260K %d and tiny-llama %d times, want 3 each", a, b)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- check(i % 2)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m := f.maxSeen.Load(); m != 1 {
		t.Fatalf("%d models were loaded at once under MaxLoaded 1", m)
	}
	_, err = storiesText(t, c, "gpt-4o", stories)
	var ae *openai.Error
	if !asAPIError(err, &ae) || ae.StatusCode != 404 || ae.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
	// Without a model name, with two served and one loaded: the loaded one.
	code, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":2}`)
	if code != 200 {
		t.Fatalf("no model name: %d %s", code, body)
	}
}

func asAPIError(err error, ae **openai.Error) bool {
	e, ok := err.(*openai.Error)
	if ok {
		*ae = e
	}
	return ok
}

// TestKeepAlive unloads a model after its keep-alive, and at once for
// ollama's keep_alive 0; /api/ps shows what is loaded.
func TestKeepAlive(t *testing.T) {
	f := newMultiFixture(t, PoolOptions{KeepAlive: 200 * time.Millisecond, MaxLoaded: 2}, "stories260K", "tiny-llama")
	ps := func() []string {
		resp, err := http.Get(f.ts.URL + "/api/ps")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Models []struct {
				Name      string `json:"name"`
				ExpiresAt string `json:"expires_at"`
				Size      int64  `json:"size"`
			} `json:"models"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		var names []string
		for _, m := range out.Models {
			names = append(names, m.Name)
		}
		return names
	}
	// An empty prompt loads a model.
	if code, _, body := post(t, f.ts.URL+"/api/generate", `{"model":"stories260K"}`); code != 200 || !strings.Contains(body, `"done_reason":"load"`) {
		t.Fatalf("load: %d %s", code, body)
	}
	if code, _, body := post(t, f.ts.URL+"/api/generate", `{"model":"tiny-llama","keep_alive":-1}`); code != 200 {
		t.Fatalf("load: %d %s", code, body)
	}
	if got := fmt.Sprint(ps()); got != "[stories260K tiny-llama]" {
		t.Fatalf("ps: %s", got)
	}
	time.Sleep(600 * time.Millisecond)
	if got := fmt.Sprint(ps()); got != "[tiny-llama]" {
		t.Fatalf("after the keep-alive: %s (tiny-llama has keep_alive -1)", got)
	}
	if code, _, body := post(t, f.ts.URL+"/api/generate", `{"model":"tiny-llama","keep_alive":0}`); code != 200 || !strings.Contains(body, `"done_reason":"unload"`) {
		t.Fatalf("unload: %d %s", code, body)
	}
	if got := ps(); len(got) != 0 {
		t.Fatalf("after keep_alive 0: %v", got)
	}
}

// TestOllamaAPI checks the shapes of ollama's endpoints and that /api/generate
// and /api/chat, streamed (NDJSON) and not, give the reference text.
func TestOllamaAPI(t *testing.T) {
	f := newMultiFixture(t, PoolOptions{}, "stories260K", "tiny-llama")
	ref := testdata.LoadReference(t, "stories260K.text-once")
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(f.ts.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var ver map[string]string
	get("/api/version", &ver)
	if ver["version"] == "" {
		t.Fatalf("version %v", ver)
	}
	var tags struct {
		Models []struct {
			Name, Model, Digest, ModifiedAt string
			Size                            int64
			Details                         map[string]any
		}
	}
	get("/api/tags", &tags)
	if len(tags.Models) != 2 || tags.Models[0].Name != "stories260K" || tags.Models[0].Details["format"] != "gguf" || tags.Models[0].Digest == "" {
		t.Fatalf("tags %+v", tags)
	}
	raw := fmt.Sprintf(`{"model":"stories260K","prompt":%q,"raw":true,"options":{"temperature":0,"num_predict":%d,"repeat_penalty":1}`, ref.PromptText, ref.NGen)
	// Not streamed.
	code, _, body := post(t, f.ts.URL+"/api/generate", raw+`,"stream":false}`)
	var one map[string]any
	if json.Unmarshal([]byte(body), &one); code != 200 || one["response"] != ref.GreedyText || one["done"] != true || one["done_reason"] != "length" || one["eval_count"] != float64(ref.NGen) {
		t.Fatalf("generate: %d %s", code, body)
	}
	// Streamed: NDJSON lines, the last done with the counts.
	lines := ndjson(t, f.ts.URL+"/api/generate", raw+`}`)
	var text strings.Builder
	for i, l := range lines {
		text.WriteString(l["response"].(string))
		if (l["done"] == true) != (i == len(lines)-1) {
			t.Fatalf("line %d: %v", i, l)
		}
	}
	if text.String() != ref.GreedyText || lines[len(lines)-1]["prompt_eval_count"] != float64(len(ref.PromptIDs)) {
		t.Fatalf("streamed %q, last %v", text.String(), lines[len(lines)-1])
	}
	// Chat, streamed and not, agree.
	chatReq := `{"model":"stories260K","messages":[{"role":"user","content":"Tell me a story"}],"options":{"temperature":0,"num_predict":12}`
	code, _, body = post(t, f.ts.URL+"/api/chat", chatReq+`,"stream":false}`)
	var cr struct {
		Message struct{ Role, Content string }
		Done    bool
	}
	if json.Unmarshal([]byte(body), &cr); code != 200 || cr.Message.Role != "assistant" || cr.Message.Content == "" || !cr.Done {
		t.Fatalf("chat: %d %s", code, body)
	}
	text.Reset()
	for _, l := range ndjson(t, f.ts.URL+"/api/chat", chatReq+`}`) {
		text.WriteString(l["message"].(map[string]any)["content"].(string))
	}
	if text.String() != cr.Message.Content {
		t.Fatalf("streamed chat %q, not streamed %q", text.String(), cr.Message.Content)
	}
	// format "json" and a schema: the reply is JSON, and follows the schema.
	for _, format := range []string{`"json"`, `{"type":"object","properties":{"age":{"type":"integer"}},"required":["age"]}`} {
		code, _, body = post(t, f.ts.URL+"/api/generate", `{"model":"stories260K","prompt":"x","stream":false,"format":`+format+`,"options":{"num_predict":300,"seed":1}}`)
		var reply map[string]any
		if json.Unmarshal([]byte(body), &one); code != 200 || one["done_reason"] != "stop" || json.Unmarshal([]byte(one["response"].(string)), &reply) != nil {
			t.Fatalf("format %s: %d %s", format, code, body)
		}
		if _, ok := reply["age"].(float64); strings.Contains(format, "age") && (!ok || len(reply) != 1) {
			t.Fatalf("format %s gave %v", format, reply)
		}
	}
	// show, and errors as ollama writes them.
	code, _, body = post(t, f.ts.URL+"/api/show", `{"model":"tiny-llama"}`)
	var show struct {
		ModelInfo    map[string]any `json:"model_info"`
		Capabilities []string
		Details      map[string]any
	}
	if json.Unmarshal([]byte(body), &show); code != 200 || show.ModelInfo["general.architecture"] != "llama" || len(show.Capabilities) == 0 {
		t.Fatalf("show: %d %s", code, body)
	}
	for _, c := range []struct {
		path, body, want string
		code             int
	}{
		{"/api/generate", `{"model":"nosuch","prompt":"x"}`, `{"error":"model 'nosuch' not found"}`, 404},
		{"/api/show", `{"model":"nosuch"}`, `{"error":"model 'nosuch' not found"}`, 404},
		{"/api/chat", `{"model":"stories260K","messages":[{"role":"user","content":"x"}],"keep_alive":"soon"}`, `keep_alive`, 400},
		{"/api/pull", `{"model":"hf.co/a/b"}`, `start shimmer serve without -m`, 501},
	} {
		code, _, body := post(t, f.ts.URL+c.path, c.body)
		if code != c.code || !strings.Contains(body, c.want) || !strings.HasPrefix(body, `{"error":"`) {
			t.Errorf("%s %s: %d %s", c.path, c.body, code, body)
		}
	}
}

// ndjson posts body and reads the NDJSON lines of the answer.
func ndjson(t *testing.T, url, body string) []map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, ct)
	}
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestUnloadFreesMemory alternates requests between two models whose KV
// caches dominate their memory under MaxLoaded 1: after each request the
// heap holds about one model's cache, not both (with both loaded it holds
// both, so the measure can tell).
func TestUnloadFreesMemory(t *testing.T) {
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	load := func(n string) func(context.Context) (*engine.Engine, *chat.Template, error) {
		return func(context.Context) (*engine.Engine, *chat.Template, error) {
			e, err := engine.Load(testdata.Path(t, "models", n+".gguf"), engine.Options{Threads: 2, Sequences: 16, Context: 2048})
			return e, nil, err
		}
	}
	run := func(po PoolOptions) (kv map[string]int64, peak int64, base int64) {
		base = heap()
		s, err := NewMulti([]Model{{Name: "stories260K", Load: load("stories260K")}, {Name: "tiny-llama", Load: load("tiny-llama")}}, po, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ts := httptest.NewServer(s)
		defer ts.Close()
		kv = map[string]int64{}
		for i := 0; i < 6; i++ {
			name := []string{"stories260K", "tiny-llama"}[i%2]
			if code, _, body := post(t, ts.URL+"/v1/completions", `{"model":"`+name+`","prompt":"Once","max_tokens":4}`); code != 200 {
				t.Fatalf("%s: %d %s", name, code, body)
			}
			s.models.mu.Lock()
			kv[name] = s.models.byName[name].b.e.KVCacheBytes()
			s.models.mu.Unlock()
			peak = max(peak, heap()-base)
		}
		return kv, peak, base
	}
	kv, one, _ := run(PoolOptions{MaxLoaded: 1})
	both := kv["stories260K"] + kv["tiny-llama"]
	big := max(kv["stories260K"], kv["tiny-llama"])
	if small := both - big; small < 8<<20 {
		t.Fatalf("KV caches of %d and %d bytes are too small to measure", big, small)
	}
	_, two, _ := run(PoolOptions{MaxLoaded: 2})
	t.Logf("KV caches %d + %d bytes; heap peak %d bytes with one loaded at a time, %d with both", big, both-big, one, two)
	if two < both {
		t.Fatalf("with both loaded the heap grew by %d bytes, less than their caches (%d): the measure is off", two, both)
	}
	if one > big+(both-big)/2 {
		t.Fatalf("under MaxLoaded 1 the heap grew by %d bytes: more than the larger model's cache (%d) plus half the other's (%d)", one, big, both-big)
	}
}

// TestLoadEvictsForMemory: a load refused for memory unloads the idle
// models and tries again; refused with none left to unload, the request
// gets 503 insufficient_memory and the server goes on serving.
func TestLoadEvictsForMemory(t *testing.T) {
	var s *Server
	loaded := func() (n int) {
		for _, sl := range s.models.slots {
			if sl.b != nil {
				n++
			}
		}
		return n
	}
	path := testdata.Path(t, "models", "stories260K.gguf")
	mk := func(name string, fits func() bool) Model {
		return Model{Name: name, Load: func(context.Context) (*engine.Engine, *chat.Template, error) {
			s.models.mu.Lock()
			ok := fits()
			s.models.mu.Unlock()
			if !ok {
				return nil, nil, &engine.MemoryError{Need: 2 << 30, Have: 1 << 30, Context: 512, Sequences: 1}
			}
			e, err := engine.Load(path, engine.Options{Threads: 2})
			return e, nil, err
		}}
	}
	var err error
	s, err = NewMulti([]Model{
		mk("a", func() bool { return true }),
		mk("b", func() bool { return loaded() == 0 }), // fits only alone
		mk("huge", func() bool { return false }),
	}, PoolOptions{MaxLoaded: 3}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, c := range []struct {
		model string
		code  int
		want  string
	}{{"a", 200, ""}, {"b", 200, ""}, {"a", 200, ""}, {"huge", 503, "insufficient_memory"}, {"a", 200, ""}} {
		code, _, body := post(t, ts.URL+"/v1/completions", `{"model":"`+c.model+`","prompt":"Once","max_tokens":2}`)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Fatalf("%s: %d %s", c.model, code, body)
		}
	}
}

// TestOllamaPull streams a pull's progress as ollama does and serves the
// pulled model at once.
func TestOllamaPull(t *testing.T) {
	path := testdata.Path(t, "models", "stories260K.gguf")
	stories := Model{Name: "stories260K", Load: func(context.Context) (*engine.Engine, *chat.Template, error) {
		e, err := engine.Load(path, engine.Options{Threads: 2})
		return e, nil, err
	}}
	pulled := stories
	pulled.Name = "acme/stories-GGUF:Q8_0"
	s, err := NewMulti([]Model{stories}, PoolOptions{}, Options{Pull: func(ctx context.Context, name string, progress func(status, file string, done, total int64)) (Model, error) {
		if name != "hf.co/acme/stories-GGUF:Q8_0" {
			return Model{}, fmt.Errorf("store: acme/nosuch: not found on Hugging Face (HTTP 404)")
		}
		progress("pulling", "stories.Q8_0.gguf", 500, 1000)
		progress("pulling", "stories.Q8_0.gguf", 1000, 1000)
		progress("verifying", "stories.Q8_0.gguf", 1000, 1000)
		return pulled, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	lines := ndjson(t, ts.URL+"/api/pull", `{"model":"hf.co/acme/stories-GGUF:Q8_0"}`)
	var statuses []string
	for _, l := range lines {
		statuses = append(statuses, fmt.Sprint(l["status"]))
	}
	want := "[pulling manifest pulling stories.Q8_0.gguf pulling stories.Q8_0.gguf verifying sha256 digest writing manifest success]"
	if fmt.Sprint(statuses) != want || lines[2]["completed"] != float64(1000) || lines[2]["total"] != float64(1000) {
		t.Fatalf("pull stream: %v", lines)
	}
	if code, _, body := post(t, ts.URL+"/api/generate", `{"model":"acme/stories-GGUF:Q8_0","prompt":"Once","raw":true,"stream":false,"options":{"num_predict":3}}`); code != 200 {
		t.Fatalf("the pulled model: %d %s", code, body)
	}
	lines = ndjson(t, ts.URL+"/api/pull", `{"model":"acme/nosuch"}`)
	if last := lines[len(lines)-1]; !strings.Contains(fmt.Sprint(last["error"]), "not found on Hugging Face") {
		t.Fatalf("failed pull: %v", lines)
	}
	if code, _, body := post(t, ts.URL+"/api/pull", `{"model":"acme/nosuch","stream":false}`); code != 500 || !strings.HasPrefix(body, `{"error":"acme/nosuch: not found`) {
		t.Fatalf("failed pull, not streamed: %d %s", code, body)
	}
}
