package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// TestLoad is the load run (not part of the normal test suite): 32
// concurrent streaming clients send 500 requests to a server over
// stories260K; it checks that none fails and that goroutines and the heap
// come back to where they were, and reports the aggregate tokens/s.
//
//	SHIMMER_LOAD=1 go test ./server -run TestLoad -v
//
// SHIMMER_LOAD_PARALLEL (default 8), SHIMMER_LOAD_CLIENTS (32),
// SHIMMER_LOAD_REQUESTS (500) and SHIMMER_LOAD_TOKENS (128, the
// max_tokens of each request) change the run. SHIMMER_LOAD_GREEDY=1 sends
// temperature 0. SHIMMER_LOAD_URL=http://host:port drives a server that is
// already running instead (shimmer serve, or llama.cpp's llama-server for a
// side-by-side comparison); the goroutine and heap checks then do not apply.
func TestLoad(t *testing.T) {
	if os.Getenv("SHIMMER_LOAD") == "" {
		t.Skip("the load run is opt-in: SHIMMER_LOAD=1")
	}
	env := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	parallel, clients, requests, maxTokens := env("SHIMMER_LOAD_PARALLEL", 8), env("SHIMMER_LOAD_CLIENTS", 32),
		env("SHIMMER_LOAD_REQUESTS", 500), env("SHIMMER_LOAD_TOKENS", 128)
	greedy := os.Getenv("SHIMMER_LOAD_GREEDY") != ""
	base := os.Getenv("SHIMMER_LOAD_URL")
	var f *fixture
	if base == "" {
		f = newFixture(t, engine.Options{Sequences: parallel, Threads: runtime.NumCPU()}, Options{})
		base = f.ts.URL
	}
	// An external server may close idle connections under the client
	// (llama-server does), so a fresh connection is used per request.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableKeepAlives: f == nil}}

	run := func(n int) loadStats {
		var st loadStats
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					r := streamOnce(client, base, i, maxTokens, greedy)
					mu.Lock()
					st.add(r)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		st.wall = time.Since(start)
		return st
	}

	run(2 * clients) // warm up: connections, buffers, caches
	client.CloseIdleConnections()
	goroutines, heap := settle(t)

	st := run(requests)
	if st.errors > 0 {
		t.Errorf("%d of %d requests failed; first: %s", st.errors, requests, st.firstErr)
	}
	client.CloseIdleConnections()
	goroutines2, heap2 := settle(t)
	where := fmt.Sprintf("an in-process server with --parallel %d", parallel)
	if f == nil {
		where = base
	}
	t.Logf("%d requests to %s, %d clients, max_tokens %d, greedy %v, %d CPUs: %d errors",
		requests, where, clients, maxTokens, greedy, runtime.NumCPU(), st.errors)
	t.Logf("%d tokens in %.2f s: %.0f tokens/s aggregate, %.1f requests/s", st.tokens, st.wall.Seconds(),
		float64(st.tokens)/st.wall.Seconds(), float64(requests)/st.wall.Seconds())
	t.Logf("time to first token: p50 %v, p99 %v; request: p50 %v, p99 %v", pct(st.ttft, 50), pct(st.ttft, 99), pct(st.total, 50), pct(st.total, 99))
	if f == nil {
		return
	}
	t.Logf("goroutines %d → %d, heap %.2f → %.2f MiB", goroutines, goroutines2, mib(heap), mib(heap2))
	if goroutines2 > goroutines+2 {
		t.Errorf("goroutines grew from %d to %d", goroutines, goroutines2)
	}
	if heap2 > heap+4<<20 {
		t.Errorf("the heap grew from %.2f to %.2f MiB", mib(heap), mib(heap2))
	}
	if s := f.e.Stats(); s.Active != 0 || s.Queued != 0 {
		t.Errorf("after the run: %+v", s)
	}
}

type loadStats struct {
	tokens, errors int
	firstErr       string
	ttft, total    []time.Duration
	wall           time.Duration
}

type loadResult struct {
	tokens      int
	err         error
	ttft, total time.Duration
}

func (s *loadStats) add(r loadResult) {
	if r.err != nil {
		if s.errors == 0 {
			s.firstErr = r.err.Error()
		}
		s.errors++
		return
	}
	s.tokens += r.tokens
	s.ttft = append(s.ttft, r.ttft)
	s.total = append(s.total, r.total)
}

// streamOnce sends request i (chat or text, sampled) as a stream and
// reads it to [DONE].
func streamOnce(client *http.Client, base string, i, maxTokens int, greedy bool) (r loadResult) {
	p := prompts[i%len(prompts)]
	path := "/v1/completions"
	temp := ""
	if greedy {
		temp = `,"temperature":0`
	}
	body := fmt.Sprintf(`{"prompt":%q,"max_tokens":%d,"seed":%d%s,"stream":true,"stream_options":{"include_usage":true}}`, p, maxTokens, i, temp)
	if i%2 == 1 {
		path = "/v1/chat/completions"
		body = fmt.Sprintf(`{"messages":[{"role":"user","content":%q}],"max_tokens":%d,"seed":%d%s,"stream":true,"stream_options":{"include_usage":true}}`, p, maxTokens, i, temp)
	}
	start := time.Now()
	resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		r.err = err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		r.err = fmt.Errorf("%s", resp.Status)
		return
	}
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			break
		}
		if r.ttft == 0 {
			r.ttft = time.Since(start)
		}
		var chunk struct {
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			}
			Error *apiError
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			r.err = err
			return
		}
		if chunk.Error != nil {
			r.err = chunk.Error
			return
		}
		if chunk.Usage != nil {
			r.tokens = chunk.Usage.CompletionTokens
		}
	}
	if !done {
		r.err = fmt.Errorf("the stream ended without [DONE]: %v", sc.Err())
	}
	r.total = time.Since(start)
	return r
}

// settle waits for goroutines to end and returns their count and the live
// heap.
func settle(t testing.TB) (int, uint64) {
	t.Helper()
	n := runtime.NumGoroutine()
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return n, ms.HeapAlloc
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100].Round(time.Microsecond)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
