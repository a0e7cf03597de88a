package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the scheduler's state and counters, for metrics.
// Counters only grow over the engine's life.
type Stats struct {
	Sequences int // sequence slots (Options.Sequences)
	Active    int // sequences running a request
	Queued    int // requests waiting for a free sequence
	Context   int // positions per sequence

	// KVActiveTokens counts the cache positions held by running
	// sequences; KVCachedTokens those held by all sequences, including the
	// prompts that free sequences keep for reuse. Both are out of
	// Sequences × Context.
	KVActiveTokens int
	KVCachedTokens int

	Steps           uint64 // forward passes run
	Requests        uint64 // requests finished (any stop reason)
	PromptTokens    uint64 // prompt tokens evaluated
	CachedTokens    uint64 // prompt tokens reused from the cache instead
	GeneratedTokens uint64 // tokens sampled

	// TokensPerSecond is the rate of generated tokens over the last few
	// seconds (all sequences together).
	TokensPerSecond float64
}

// Stats returns a snapshot of the scheduler's state. It is cheap and safe
// to call from any goroutine.
func (e *Engine) Stats() Stats {
	c := &e.sched.stats
	return Stats{
		Sequences:       e.opts.Sequences,
		Active:          int(c.active.Load()),
		Queued:          int(c.queued.Load()),
		Context:         e.opts.Context,
		KVActiveTokens:  int(c.kvActive.Load()),
		KVCachedTokens:  int(c.kvCached.Load()),
		Steps:           c.steps.Load(),
		Requests:        c.requests.Load(),
		PromptTokens:    c.promptTokens.Load(),
		CachedTokens:    c.cachedTokens.Load(),
		GeneratedTokens: c.generated.Load(),
		TokensPerSecond: c.rate.perSecond(time.Now(), c.generated.Load()),
	}
}

// counters are the scheduler's statistics: written by the scheduler
// goroutine, read by Stats from any goroutine.
type counters struct {
	active, queued     atomic.Int64
	kvActive, kvCached atomic.Int64
	steps, requests    atomic.Uint64
	promptTokens       atomic.Uint64
	cachedTokens       atomic.Uint64
	generated          atomic.Uint64
	rate               rateWindow
	// Per sequence: the positions it holds (busy or not), and -1-n for
	// a sequence running a request that has evaluated n positions.
	slotCached, slotState []atomic.Int64
}

// publish refreshes the gauges after a step (scheduler goroutine only).
func (s *scheduler) publish() {
	var active, kvActive, kvCached int64
	for i, sl := range s.slots {
		kvCached += int64(len(sl.cached))
		s.stats.slotCached[i].Store(int64(len(sl.cached)))
		if sl.req != nil {
			active++
			kvActive += int64(sl.n)
			s.stats.slotState[i].Store(-1 - int64(sl.n))
		} else {
			s.stats.slotState[i].Store(0)
		}
	}
	s.stats.active.Store(active)
	s.stats.kvActive.Store(kvActive)
	s.stats.kvCached.Store(kvCached)
	s.stats.rate.record(time.Now(), s.stats.generated.Load())
}

// rateWindow estimates a counter's recent rate from samples of its value,
// one per second over the last rateSeconds seconds.
type rateWindow struct {
	mu      sync.Mutex
	samples [rateSeconds]struct {
		sec   int64     // unix second of the sample (0: none)
		at    time.Time // when it was taken
		count uint64
	}
}

const rateSeconds = 10

// record samples count, once per second at most.
func (w *rateWindow) record(now time.Time, count uint64) {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := &w.samples[sec%rateSeconds]; p.sec != sec {
		p.sec, p.at, p.count = sec, now, count
	}
}

// perSecond returns the growth of the counter since the oldest sample in
// the window, per second; 0 without samples.
func (w *rateWindow) perSecond(now time.Time, count uint64) float64 {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	oldest := -1
	for i, p := range w.samples {
		if p.sec == 0 || p.sec <= sec-rateSeconds || p.sec > sec {
			continue
		}
		if oldest < 0 || p.sec < w.samples[oldest].sec {
			oldest = i
		}
	}
	if oldest < 0 {
		return 0
	}
	p := w.samples[oldest]
	age := now.Sub(p.at).Seconds()
	if age < 1 || count < p.count {
		return 0
	}
	return float64(count-p.count) / age
}

// SlotState is one sequence of the engine, as llama-server's /slots
// shows its slots.
type SlotState struct {
	ID int
	// Processing says a request runs on it; Tokens are the positions it
	// has evaluated for that request.
	Processing bool
	Tokens     int
	// CachedTokens are the positions its cache range holds.
	CachedTokens int
}

// Slots returns the state of each sequence after the last step (cheap,
// safe from any goroutine).
func (e *Engine) Slots() []SlotState {
	c := &e.sched.stats
	out := make([]SlotState, len(c.slotState))
	for i := range out {
		st := c.slotState[i].Load()
		out[i] = SlotState{ID: i, Processing: st < 0, CachedTokens: int(c.slotCached[i].Load())}
		if st < 0 {
			out[i].Tokens = int(-1 - st)
		}
	}
	return out
}
