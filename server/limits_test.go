package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// Eight 7 MB prompts at once are refused with a 400 naming the context
// before they are tokenized: each answer comes within 100 ms and the heap
// grows by less than 200 MB (tokenizing one such prompt took ~450 MB).
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
			if took > 100*time.Millisecond {
				t.Errorf("%s: the 400 took %v", path, took)
			}
		}(i)
	}
	wg.Wait()
	close(stop)
	<-sampled
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
