package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// A callback that panics ends its own request with an error; the others
// go on.
func TestCallbackPanic(t *testing.T) {
	e := load(t, "stories260K", engine.Options{Sequences: 2})
	var wg sync.WaitGroup
	wg.Add(1)
	var otherErr error
	var other engine.Result
	go func() {
		defer wg.Done()
		other, otherErr = e.Generate(context.Background(), "The little dog", engine.GenerateOptions{MaxTokens: 40, IgnoreEOG: true}, nil)
	}()
	n := 0
	_, err := e.Generate(context.Background(), "Once upon a time", engine.GenerateOptions{MaxTokens: 40, IgnoreEOG: true}, func(engine.Token) error {
		if n++; n == 3 {
			panic("boom")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panicked: boom") {
		t.Errorf("panicking callback: %v", err)
	}
	wg.Wait()
	if otherErr != nil || other.Tokens != 40 {
		t.Errorf("the other request: %+v %v", other, otherErr)
	}
}

// A request cancelled while it waits leaves the queue at once; past the
// queue, Generate fails with ErrBusy.
func TestQueue(t *testing.T) {
	// A long context: request A must still be generating, even on a slow
	// or busy machine, when the test cancels it.
	e := load(t, "stories260K", engine.Options{Sequences: 1, QueueSize: 1, Context: 1 << 16})
	ctxA, cancelA := context.WithCancel(context.Background())
	started := make(chan struct{})
	doneA := make(chan error, 1)
	go func() {
		once := sync.Once{}
		_, err := e.Generate(ctxA, "Once upon a time", engine.GenerateOptions{IgnoreEOG: true}, func(engine.Token) error {
			once.Do(func() { close(started) })
			return nil
		})
		doneA <- err
	}()
	<-started
	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() {
		_, err := e.Generate(ctxB, "Once", engine.GenerateOptions{MaxTokens: 2}, nil)
		doneB <- err
	}()
	waitFor(t, func() bool { return e.Stats().Queued == 1 })
	if _, err := e.Generate(context.Background(), "Once", engine.GenerateOptions{MaxTokens: 2}, nil); !errors.Is(err, engine.ErrBusy) {
		t.Errorf("full queue: %v", err)
	}
	cancelB()
	select {
	case err := <-doneB:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while queued: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled request stayed in the queue")
	}
	if st := e.Stats(); st.Queued != 0 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
	cancelA()
	if err := <-doneA; !errors.Is(err, context.Canceled) {
		t.Errorf("A: %v", err)
	}
	// The engine serves again.
	if _, err := e.Generate(context.Background(), "Once", engine.GenerateOptions{MaxTokens: 2}, nil); err != nil {
		t.Error(err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("timed out")
		}
	}
}

func TestStats(t *testing.T) {
	e := load(t, "stories260K", engine.Options{Sequences: 2})
	res, err := e.Generate(context.Background(), "Once upon a time", engine.GenerateOptions{MaxTokens: 10, IgnoreEOG: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The request has left the gauges when Generate returns; the step
	// count follows at the end of the step that finished it.
	if st := e.Stats(); st.Active != 0 || st.KVActiveTokens != 0 {
		t.Errorf("still active after Generate returned: %+v", st)
	}
	waitFor(t, func() bool { return e.Stats().Steps == 10 })
	st := e.Stats()
	if st.Sequences != 2 || st.Active != 0 || st.Queued != 0 || st.Requests != 1 || st.GeneratedTokens != 10 ||
		st.PromptTokens != uint64(res.PromptTokens) || st.Steps != 10 || st.KVActiveTokens != 0 ||
		st.KVCachedTokens != res.PromptTokens+9 || st.Context == 0 {
		t.Errorf("stats %+v after %+v", st, res)
	}
	// The same prompt again reuses all but its last token.
	res, _ = e.Generate(context.Background(), "Once upon a time", engine.GenerateOptions{MaxTokens: 1}, nil)
	if st := e.Stats(); st.CachedTokens != uint64(res.PromptTokens-1) || res.CachedTokens != res.PromptTokens-1 {
		t.Errorf("cached: %+v, %+v", st, res)
	}
}

// Text held back at the end (the beginning of a stop string that did not
// follow) comes in a call with ID -1, not counted as a token.
func TestHeldBackText(t *testing.T) {
	e := load(t, "stories260K", engine.Options{})
	found := false
	for k := 1; k <= 16 && !found; k++ {
		var toks []engine.Token
		res, err := e.Generate(context.Background(), "Once upon a time", engine.GenerateOptions{MaxTokens: k, Stop: []string{"Lily zzz"}},
			func(tok engine.Token) error { toks = append(toks, tok); return nil })
		if err != nil {
			t.Fatal(err)
		}
		ids := 0
		for _, tok := range toks {
			if tok.ID >= 0 {
				ids++
			}
		}
		if ids != res.Tokens {
			t.Errorf("%d tokens with ids, result says %d", ids, res.Tokens)
		}
		last := toks[len(toks)-1]
		if strings.HasSuffix(last.Text, "Lily") {
			found = true
			if last.ID != -1 || last.Text != "Lily" {
				t.Errorf("held-back text delivered as %+v", last)
			}
		}
	}
	if !found {
		t.Error("no generation ended on Lily")
	}
}
