package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// prompts are sixteen different beginnings.
var prompts = []string{
	"Once upon a time", "The little dog", "Lily and Tom went to the park. They", "One day", "The sun was shining",
	"Tim had a red ball", "There was a big tree", "Mom said", "The cat sat on", "Sara liked to",
	"In the forest, a bear", "The boy was sad because", "A bird flew", "They played all day", "Ben found a box", "The rain stopped and",
}

// request i of the batch: chat or text, greedy or seeded sampling, with
// logprobs so that their bits are compared too.
func batchRequest(i int) (path, body string) {
	sampling := `"temperature":0`
	if i%4 == 3 {
		sampling = fmt.Sprintf(`"temperature":0.9,"top_p":0.95,"seed":%d`, i)
	}
	if i%2 == 0 {
		return "/v1/completions", fmt.Sprintf(`{"prompt":%q,"max_tokens":40,%s,"logprobs":2}`, prompts[i], sampling)
	}
	return "/v1/chat/completions", fmt.Sprintf(`{"messages":[{"role":"user","content":%q}],"max_tokens":40,%s,"logprobs":true,"top_logprobs":2}`, prompts[i], sampling)
}

// choices returns what a response says about its generation: the
// choices (text, logprobs, finish) and the completion tokens, without
// ids, times or cache counts.
func choices(t testing.TB, body string) string {
	t.Helper()
	var r struct {
		Choices json.RawMessage
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Choices) == 0 {
		t.Fatalf("response %s: %v", body, err)
	}
	return fmt.Sprintf("%s %d", r.Choices, r.Usage.CompletionTokens)
}

// Sixteen concurrent requests through four sequences: each response is
// byte for byte the one the same request gets alone.
func TestConcurrentMatchesAlone(t *testing.T) {
	alone := newFixture(t, engine.Options{Sequences: 1}, Options{})
	want := make([]string, len(prompts))
	for i := range prompts {
		path, body := batchRequest(i)
		status, _, resp := post(t, alone.ts.URL+path, body)
		if status != 200 {
			t.Fatalf("alone %d: %d %s", i, status, resp)
		}
		want[i] = choices(t, resp)
	}
	f := newFixture(t, engine.Options{Sequences: 4}, Options{})
	got := make([]string, len(prompts))
	// Watch that the requests really share batches.
	busiest := make(chan int)
	quit := make(chan struct{})
	go func() {
		most := 0
		for {
			select {
			case <-quit:
				busiest <- most
				return
			default:
				most = max(most, f.e.Stats().Active)
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path, body := batchRequest(i)
			status, _, resp := post(t, f.ts.URL+path, body)
			if status != 200 {
				t.Errorf("batched %d: %d %s", i, status, resp)
				return
			}
			got[i] = choices(t, resp)
		}()
	}
	wg.Wait()
	close(quit)
	if most := <-busiest; most < 3 {
		t.Errorf("at most %d sequences ran together", most)
	}
	for i := range prompts {
		if got[i] != want[i] {
			t.Errorf("request %d batched:\n%s\nalone:\n%s", i, got[i], want[i])
		}
	}
	if st := f.e.Stats(); st.Steps == 0 || st.Active != 0 || st.Queued != 0 {
		t.Errorf("stats after the batch: %+v", st)
	}
}

// openStream starts a streamed completion and returns its reader after
// the first n events; cancel drops the connection.
func openStream(t testing.TB, ctx context.Context, url, body string, n int) (*bufio.Reader, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	for seen := 0; seen < n; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream after %d events: %v", seen, err)
		}
		if strings.HasPrefix(line, "data: ") {
			seen++
		}
	}
	return r, resp
}

const longStream = `{"prompt":"Once upon a time","max_tokens":400,"ignore_eos":true,"temperature":0,"stream":true}`

// histogram returns the samples of a histogram of the server's registry
// and how many of them are ≤ le.
func histogram(t testing.TB, s *Server, name string, le float64) (count, under uint64) {
	t.Helper()
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == le {
				under = b.GetCumulativeCount()
			}
		}
		return h.GetSampleCount(), under
	}
	t.Fatalf("no metric %s", name)
	return 0, 0
}

// A streaming client that disconnects frees its sequence within one
// decode step, while another stream goes on.
func TestDisconnectFreesSequence(t *testing.T) {
	f := newFixture(t, engine.Options{Sequences: 2, Context: 16384}, Options{})
	url := f.ts.URL + "/v1/completions"
	// The other stream keeps the scheduler stepping to the end.
	otherCtx, stopOther := context.WithCancel(context.Background())
	defer stopOther()
	other, otherResp := openStream(t, otherCtx, url, strings.Replace(longStream, "400", "16000", 1), 2)
	defer otherResp.Body.Close()

	ctx, cancel := context.WithCancel(context.Background())
	_, resp := openStream(t, ctx, url, longStream, 3)
	if st := f.e.Stats(); st.Active != 2 {
		t.Fatalf("%d sequences active, want 2", st.Active)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for f.e.Stats().Active != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the sequence of the disconnected client is still busy: %+v", f.e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	// It generated at most one token after its context was cancelled:
	// the step under way when the client left.
	for time.Now().Before(deadline) {
		if n, _ := histogram(t, f.s, "shimmer_tokens_after_cancel", 1); n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	n, under := histogram(t, f.s, "shimmer_tokens_after_cancel", 1)
	if n != 1 || under != 1 {
		t.Errorf("tokens after cancel: %d observations, %d of them ≤ 1", n, under)
	}
	// The other stream is unaffected.
	if line, err := other.ReadString('\n'); err != nil || line == "" {
		t.Errorf("other stream: %q %v", line, err)
	}

	// The same for a client waiting for a whole (non-streamed) answer.
	ctx, cancel = context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"prompt":"Once upon a time","max_tokens":1000,"ignore_eos":true}`))
	req.Header.Set("Content-Type", "application/json")
	go func() {
		waitFor(t, func() bool { return f.e.Stats().Active == 2 })
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was not cancelled: %s", resp.Status)
	}
	waitFor(t, func() bool { return f.e.Stats().Active == 1 })
	waitFor(t, func() bool { n, _ := histogram(t, f.s, "shimmer_tokens_after_cancel", 1); return n == 2 })
	if n, under := histogram(t, f.s, "shimmer_tokens_after_cancel", 1); under != n {
		t.Errorf("tokens after cancel: %d observations, %d of them ≤ 1", n, under)
	}
	stopOther()
}

// Past the queue, requests get 503 with Retry-After (streamed or not);
// waiting requests whose clients leave free their place at once.
func TestBusy(t *testing.T) {
	f := newFixture(t, engine.Options{Sequences: 1, QueueSize: 1}, Options{})
	url := f.ts.URL + "/v1/completions"
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	_, respA := openStream(t, ctxA, url, longStream, 1)
	defer respA.Body.Close()

	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	doneB := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctxB, http.MethodPost, url, strings.NewReader(`{"prompt":"Once","max_tokens":2}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			doneB <- 0
			return
		}
		resp.Body.Close()
		doneB <- resp.StatusCode
	}()
	waitFor(t, func() bool { return f.e.Stats().Queued == 1 })
	for _, body := range []string{`{"prompt":"Once","max_tokens":2}`, `{"prompt":"Once","max_tokens":2,"stream":true}`} {
		status, hdr, resp := post(t, url, body)
		if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(resp, "server_busy") {
			t.Errorf("full queue: %d %v %s", status, hdr, resp)
		}
	}
	// B leaves the queue as soon as its client goes.
	cancelB()
	<-doneB
	waitFor(t, func() bool { return f.e.Stats().Queued == 0 })
	if st := f.e.Stats(); st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
	cancelA()
	waitFor(t, func() bool { return f.e.Stats().Active == 0 })
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("timed out")
		}
	}
}

// A panic in a handler is an error response; the server goes on.
func TestPanicRecovered(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	h := f.s.wrap("boom", http.MethodGet, func(http.ResponseWriter, *http.Request) { panic("boom") })
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("panic: %s", resp.Status)
	}
	get(t, f.ts.URL+"/health", "")
}

// On shutdown the server drains: /health answers 503 and new requests get
// the shutting_down 503 while running requests have the grace period; a
// stream that finishes within it ends normally. Past the grace, a running
// stream ends with a shutting_down error event, and a running and a queued
// non-streamed request get the shutting_down 503: no client is left with
// an empty 200.
func TestGracefulShutdown(t *testing.T) {
	// A context long enough for the long requests to outlast the grace.
	f := newFixture(t, engine.Options{Sequences: 2, Context: 16384}, Options{ShutdownGrace: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	url := base + "/v1/completions"
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.s.Serve(ctx, ln) }()

	long, longResp := openStream(t, context.Background(), url, `{"prompt":"Once upon a time","max_tokens":100000,"ignore_eos":true,"stream":true}`, 1)
	defer longResp.Body.Close()
	short, shortResp := openStream(t, context.Background(), url, `{"prompt":"Once","max_tokens":10,"temperature":0,"stream":true}`, 1)
	defer shortResp.Body.Close()
	// Two non-streamed requests: one runs once the short stream is done,
	// the other stays queued.
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 2)
	for i := 0; i < 2; i++ {
		go func() {
			resp, err := http.Post(url, "application/json", strings.NewReader(`{"prompt":"Once","max_tokens":100000,"ignore_eos":true}`))
			if err != nil {
				answers <- answer{0, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{resp.StatusCode, string(b)}
		}()
	}
	waitFor(t, func() bool { st := f.e.Stats(); return st.Queued == 1 && st.Active == 2 })
	stop()
	var shortEnd, longEnd string
	var wg sync.WaitGroup
	readAll := func(r *bufio.Reader, last *string) {
		defer wg.Done()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "data: ") {
				*last = line
			}
		}
	}
	wg.Add(2)
	go readAll(short, &shortEnd)
	go readAll(long, &longEnd)
	// During the drain: /health says 503, new work is refused.
	waitFor(t, func() bool { return f.s.draining.Load() })
	if resp, err := http.Get(base + "/health"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/health while draining: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Post(url, "application/json", strings.NewReader(`{"prompt":"Once","max_tokens":1}`)); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new request while draining: %v %v", resp, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "shutting_down") {
			t.Errorf("a new request while draining: %s", b)
		}
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	wg.Wait()
	if strings.TrimSpace(shortEnd) != "data: [DONE]" {
		t.Errorf("the short stream did not finish: %q", shortEnd)
	}
	if !strings.Contains(longEnd, "shutting_down") {
		t.Errorf("the long stream did not end with a shutting_down event: %q", longEnd)
	}
	for i := 0; i < 2; i++ {
		a := <-answers
		if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "shutting_down") {
			t.Errorf("non-streamed request: %d %s", a.status, a.body)
		}
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting connections")
	}
	waitFor(t, func() bool { return f.e.Stats().Active == 0 })
}

// smallBuffers makes accepted connections buffer little, so that a client
// that stops reading blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(2048)
	}
	return c, err
}

// A client that stops reading a stream is dropped after the write
// timeout, and its sequence freed, while the others go on.
func TestSlowClientDropped(t *testing.T) {
	f := newFixture(t, engine.Options{Sequences: 2, Context: 16384}, Options{WriteTimeout: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go f.s.Serve(ctx, smallBuffers{ln})
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(2048)
	body := `{"prompt":"Once upon a time","max_tokens":10000,"ignore_eos":true,"stream":true}`
	fmt.Fprintf(conn, "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// The client reads nothing: the sequence runs until the server's
	// writes block for longer than the write timeout.
	waitFor(t, func() bool { return f.e.Stats().Active == 1 })
	start := time.Now()
	for f.e.Stats().Active != 0 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the slow client still holds its sequence: %+v", f.e.Stats())
		}
		// Meanwhile others are served.
		status, _, _ := post(t, "http://"+ln.Addr().String()+"/v1/completions", `{"prompt":"Once","max_tokens":4}`)
		if status != 200 {
			t.Fatalf("another request: %d", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := f.e.Stats(); st.Requests < 2 {
		t.Errorf("stats %+v", st)
	}
}
