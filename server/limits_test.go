package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// Eight 7 MB prompts at once are refused with a 400 naming the context
// before they are tokenized (none is), and the heap grows by less than
// 200 MB (tokenizing one such prompt took ~450 MB and over a second). The
// test logs how long each answer took (~40 ms on an idle 2-core machine)
// but does not time it: BenchmarkOversizedPrompt measures that.
func TestOversizedPromptsRefusedEarly(t *testing.T) {
	f := newFixture(t, engine.Options{Context: 256}, Options{})
	text := strings.Repeat("Once upon a time there was a little dog. ", 7<<20/41)
	completion, _ := json.Marshal(map[string]any{"prompt": text, "max_tokens": 4})
	chatBody, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": text}}, "max_tokens": 4})

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path, body := "/v1/completions", completion
			if i%2 == 1 {
				path, body = "/v1/chat/completions", chatBody
			}
			start := time.Now()
			resp, err := http.Post(f.ts.URL+path, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var e struct {
				Error apiError `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&e)
			took := time.Since(start)
			if resp.StatusCode != http.StatusBadRequest || e.Error.Code == nil || *e.Error.Code != "context_length_exceeded" {
				t.Errorf("%s: status %d, error %+v", path, resp.StatusCode, e.Error)
			}
			t.Logf("%s: %d in %v: %s", path, resp.StatusCode, took.Round(time.Millisecond), e.Error.Message)
		}(i)
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := f.s.tokenized.Load(); n != 0 {
		t.Errorf("%d of the prompts were tokenized", n)
	}
	growth := int64(peak.Load()) - int64(before.HeapAlloc)
	t.Logf("heap: %.1f MB before, peak %.1f MB (growth %.1f MB)", float64(before.HeapAlloc)/1e6, float64(peak.Load())/1e6, float64(growth)/1e6)
	if growth > 200e6 {
		t.Errorf("the heap grew by %.0f MB", float64(growth)/1e6)
	}
}

// A prompt under the body limit but longer than the context can hold is
// refused by its length before it is tokenized, through the server and
// through the engine's Generate.
func TestLongPromptRefusedBeforeTokenizing(t *testing.T) {
	f := newFixture(t, engine.Options{Context: 256}, Options{})
	text := strings.Repeat("Once upon a time. ", 20000) // 360 kB: ≥ 40000 tokens
	for _, c := range []struct{ path, body string }{
		{"/v1/completions", mustJSON(t, map[string]any{"prompt": text})},
		{"/v1/chat/completions", mustJSON(t, map[string]any{"messages": []map[string]string{{"role": "user", "content": text}}})},
	} {
		resp, err := http.Post(f.ts.URL+c.path, "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error apiError `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "at least") || !strings.Contains(e.Error.Message, "context of 256") {
			t.Errorf("%s: %d %q", c.path, resp.StatusCode, e.Error.Message)
		}
	}
	_, err := f.e.Generate(t.Context(), text, engine.GenerateOptions{MaxTokens: 1}, nil)
	var ce *engine.ContextError
	if !errors.As(err, &ce) || !ce.AtLeast || ce.Context != 256 {
		t.Errorf("Generate: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A web page must not reach the server: a body of any type but JSON (a
// "simple" CORS request) gets 415, and without an API key a Host that is
// not a loopback name (DNS rebinding) gets 403. Auth runs before the
// method check, so routes cannot be mapped without a key.
func TestBrowserSafety(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	do := func(method, path, host, ctype, body string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(method, f.ts.URL+path, strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}
	body := `{"prompt":"Once","max_tokens":1}`
	for _, c := range []struct {
		ctype string
		want  int
	}{{"text/plain", 415}, {"application/x-www-form-urlencoded", 415}, {"multipart/form-data; boundary=x", 415}, {"", 415},
		{"application/json", 200}, {"application/json; charset=utf-8", 200}} {
		if got, b := do("POST", "/v1/completions", "", c.ctype, body); got != c.want {
			t.Errorf("Content-Type %q: %d, want %d: %s", c.ctype, got, c.want, b)
		}
	}
	for _, c := range []struct {
		host string
		want int
	}{{"localhost:8080", 200}, {"127.0.0.1:8080", 200}, {"[::1]:8080", 200}, {"127.1.2.3", 200}, {"app.localhost", 200},
		{"evil.example:8080", 403}, {"localhost.evil.example", 403}, {"192.168.1.5:8080", 403}} {
		if got, b := do("POST", "/v1/completions", c.host, "application/json", body); got != c.want {
			t.Errorf("Host %q: %d, want %d: %s", c.host, got, c.want, b)
		}
	}
	// /health stays reachable for load balancers whatever the Host.
	if got, _ := do("GET", "/health", "evil.example", "", ""); got != 200 {
		t.Errorf("/health with a foreign Host: %d", got)
	}
	// Configured hosts, and any host once an API key is set.
	g := newFixture(t, engine.Options{}, Options{AllowedHosts: []string{"shimmer.lan"}})
	req, _ := http.NewRequest("POST", g.ts.URL+"/v1/completions", strings.NewReader(body))
	req.Host, req.Header["Content-Type"] = "shimmer.lan:8080", []string{"application/json"}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("allowed host: %v %v", resp, err)
	}
	k := newFixture(t, engine.Options{}, Options{APIKey: "sesame"})
	req, _ = http.NewRequest("POST", k.ts.URL+"/v1/completions", strings.NewReader(body))
	req.Host, req.Header["Content-Type"], req.Header["Authorization"] = "anything.example", []string{"application/json"}, []string{"Bearer sesame"}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("foreign host with the key: %v %v", resp, err)
	}
	// Without the key, a wrong method is a 401, not a 405 that would tell
	// the route exists.
	for _, path := range []string{"/v1/completions", "/v1/models", "/nosuch"} {
		req, _ := http.NewRequest("DELETE", k.ts.URL+path, nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
			t.Errorf("DELETE %s without the key: %v %v", path, resp, err)
		}
	}
}

// Retry-After grows with the queue ahead instead of always saying 1 s.
func TestRetryAfterFollowsQueue(t *testing.T) {
	retry := func(queue int) int {
		f := newFixture(t, engine.Options{Sequences: 1, QueueSize: queue, Context: 16384}, Options{})
		url := f.ts.URL + "/v1/completions"
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, resp := openStream(t, ctx, url, `{"prompt":"Once upon a time","max_tokens":100000,"ignore_eos":true,"stream":true}`, 1)
		defer resp.Body.Close()
		for i := 0; i < queue; i++ {
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"prompt":"Once","max_tokens":100000,"ignore_eos":true}`))
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		waitFor(t, func() bool { return f.e.Stats().Queued == queue })
		status, hdr, _ := post(t, url, `{"prompt":"Once","max_tokens":2}`)
		n, err := strconv.Atoi(hdr.Get("Retry-After"))
		if status != 503 || err != nil || n < 1 {
			t.Fatalf("queue %d: %d, Retry-After %q", queue, status, hdr.Get("Retry-After"))
		}
		return n
	}
	short, long := retry(1), retry(6)
	t.Logf("Retry-After: %d s behind 1 queued request, %d s behind 6", short, long)
	if long <= short {
		t.Errorf("Retry-After %d behind 6 queued requests, %d behind 1", long, short)
	}
}

// BenchmarkOversizedPrompt: the time to refuse a 7 MB prompt.
func BenchmarkOversizedPrompt(b *testing.B) {
	f := newFixture(b, engine.Options{Context: 256}, Options{})
	text := strings.Repeat("Once upon a time there was a little dog. ", 7<<20/41)
	body, _ := json.Marshal(map[string]any{"prompt": text, "max_tokens": 4})
	for b.Loop() {
		resp, err := http.Post(f.ts.URL+"/v1/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
