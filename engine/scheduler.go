package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shimmer-llm/shimmer/model"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// request is one Generate call travelling through the scheduler.
type request struct {
	ctx    context.Context
	prompt []int32
	// feed is what the sequence evaluates: the prompt, or after a context
	// shift what was kept of prompt and completion, then the last token.
	feed    []int32
	opts    GenerateOptions
	lora    []float32 // the scale of each adapter
	onToken func(Token) error
	done    chan struct{} // closed when res/err are final
	res     Result
	err     error
	order   uint64 // admission order, for serving prompts first come first served
}

// slot is one sequence of the KV cache. Its states:
//
//	free:    req == nil; cached holds what its cache range still contains
//	prefill: req != nil, n < len(req.feed): prompt tokens remain to evaluate
//	decode:  req != nil, n ≥ len(req.feed): next feeds the last sampled token
//
// Only the scheduler goroutine touches slots.
type slot struct {
	id     int
	req    *request
	cached []int32   // tokens whose keys/values are in the cache, in order
	lora   []float32 // the adapter scales cached was computed with
	n      int       // tokens of the current sequence evaluated so far
	next   int32     // token to feed in decode
	samp   *sampler
	con    *constraint // the grammar state, when the request has one
	dec    *tokenizer.StreamDecoder
	stop   stopFilter
	start  time.Time
	first  time.Time // when the first token was chosen
	// evaluated: prompt tokens were evaluated in this step, not yet
	// reported to OnPromptProgress.
	evaluated bool
}

// scheduler runs every forward pass of an engine: each step it admits
// waiting requests into free slots, builds one batch from all active
// sequences (one token per decoding sequence, then prompt chunks within
// the batch budget, so long prompts do not stall running streams), runs
// the model, and samples.
type scheduler struct {
	e      *Engine
	quit   chan struct{}
	exited chan struct{}
	slots  []*slot
	batch  model.Batch
	logits []float32 // logitRows × vocab
	rows   int
	admits uint64 // requests admitted so far
	stats  counters

	// The queue of waiting requests: a request whose context is
	// cancelled while it waits leaves it at once (see unqueue).
	mu      sync.Mutex
	waiting []*request
	wake    chan struct{} // holds a token when waiting may be non-empty
	closed  bool
}

func newScheduler(e *Engine) *scheduler {
	s := &scheduler{
		e:      e,
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	for i := 0; i < e.opts.Sequences; i++ {
		s.slots = append(s.slots, &slot{id: i})
	}
	s.stats.slotCached = make([]atomic.Int64, e.opts.Sequences)
	s.stats.slotState = make([]atomic.Int64, e.opts.Sequences)
	// Every decoding sequence needs one logits row; prompts that want all
	// their logits are evaluated in chunks of at most 32 rows.
	s.rows = e.opts.Sequences + 32
	s.logits = make([]float32, s.rows*e.Hyper().Vocab)
	n := e.opts.BatchSize
	s.batch = model.Batch{Tokens: make([]int32, 0, n), Pos: make([]int32, 0, n), Seq: make([]int32, 0, n), Logits: make([]bool, 0, n)}
	return s
}

func (s *scheduler) submit(r *request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.waiting) >= s.e.opts.QueueSize {
		return ErrBusy
	}
	s.waiting = append(s.waiting, r)
	s.stats.queued.Store(int64(len(s.waiting)))
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// unqueue removes r from the queue if it still waits there.
func (s *scheduler) unqueue(r *request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.waiting {
		if w == r {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			s.stats.queued.Store(int64(len(s.waiting)))
			return true
		}
	}
	return false
}

// queued returns the number of waiting requests.
func (s *scheduler) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// next takes the oldest waiting request, or nil.
func (s *scheduler) next() *request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) == 0 {
		return nil
	}
	r := s.waiting[0]
	s.waiting[0] = nil
	s.waiting = s.waiting[1:]
	s.stats.queued.Store(int64(len(s.waiting)))
	return r
}

func (s *scheduler) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.exited
}

func (s *scheduler) loop() {
	defer close(s.exited)
	for {
		if s.active() == 0 && s.queued() == 0 {
			select {
			case <-s.wake:
			case <-s.quit:
				s.shutdown()
				return
			}
		}
		select {
		case <-s.quit:
			s.shutdown()
			return
		default:
		}
		s.admitWaiting()
		s.step()
	}
}

func (s *scheduler) active() int {
	n := 0
	for _, sl := range s.slots {
		if sl.req != nil {
			n++
		}
	}
	return n
}

func (s *scheduler) admitWaiting() {
	for s.active() < len(s.slots) {
		r := s.next()
		if r == nil {
			return
		}
		s.admit(r)
	}
}

// admit gives r the free slot whose cache shares the longest prefix with
// its prompt, and reuses that prefix.
func (s *scheduler) admit(r *request) {
	if r.ctx.Err() != nil {
		r.res.StopReason = StopCancelled
		r.err = r.ctx.Err()
		close(r.done)
		return
	}
	var best *slot
	bestLen := -1
	for _, sl := range s.slots {
		if sl.req != nil {
			continue
		}
		l := 0
		if sameScales(sl.lora, r.lora) {
			l = commonPrefix(sl.cached, r.prompt)
		}
		if l > bestLen {
			best, bestLen = sl, l
		}
	}
	reuse := min(bestLen, len(r.prompt)-1)
	if r.opts.OnLogits != nil {
		reuse = 0 // the caller wants every position's logits
	}
	if s.e.Hyper().Window > 0 && reuse < len(best.cached) {
		// Sliding-window layers keep a ring: only a pure extension of
		// what the slot holds can be reused.
		reuse = 0
	}
	best.req = r
	best.cached = append(best.cached[:0], r.prompt[:reuse]...)
	best.lora = r.lora
	s.e.state.SetSequenceLoRA(best.id, r.lora)
	best.n = reuse
	best.samp = newSamplerWith(s.e.Hyper().Vocab, r.opts.SampleOptions, s.e.chainParamsFor(r.opts.SampleOptions))
	best.con = nil
	if r.opts.Grammar != nil {
		best.con = s.e.newConstraint(r.opts.Grammar)
	}
	for _, id := range r.prompt {
		best.samp.accept(id, false)
	}
	best.dec = s.e.tok.NewStreamDecoder(false)
	best.stop = stopFilter{stops: r.opts.Stop}
	best.start = time.Now()
	best.first = time.Time{}
	s.admits++
	r.order = s.admits
	r.res.PromptTokens = len(r.prompt)
	r.res.CachedTokens = reuse
	r.feed = r.prompt
	s.stats.cachedTokens.Add(uint64(reuse))
	s.progress(best)
}

// progressed reports the prompt tokens evaluated in this step, once.
func (s *scheduler) progressed(sl *slot) {
	if sl.evaluated && sl.req != nil {
		s.progress(sl)
	}
	sl.evaluated = false
}

// progress tells a request how far its prompt's evaluation is.
func (s *scheduler) progress(sl *slot) {
	r := sl.req
	if f := r.opts.OnPromptProgress; f != nil && r.res.ContextShifts == 0 {
		p := PromptProgress{Total: len(r.prompt), Cache: r.res.CachedTokens, Processed: min(sl.n, len(r.prompt)), Time: time.Since(sl.start)}
		safeCall(func() error { f(p); return nil })
	}
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// step runs one forward pass over all active sequences.
func (s *scheduler) step() {
	b := &s.batch
	b.Reset()
	budget := s.e.opts.BatchSize
	rows := 0
	for _, sl := range s.slots {
		if sl.req != nil && sl.req.ctx.Err() != nil {
			s.finish(sl, StopCancelled, sl.req.ctx.Err())
		}
	}
	// Decoding sequences first: one token each.
	for _, sl := range s.slots {
		if sl.req == nil || sl.n < len(sl.req.feed) || budget == 0 {
			continue
		}
		b.Add(sl.next, int32(sl.n), int32(sl.id), true)
		budget--
		rows++
	}
	// Then prompt chunks, first come first served.
	for _, sl := range s.prefillOrder() {
		all := sl.req.opts.OnLogits != nil
		for p := sl.n; p < len(sl.req.feed) && budget > 0; p++ {
			last := p == len(sl.req.feed)-1
			want := all || last
			if want && rows == s.rows {
				break
			}
			b.Add(sl.req.feed[p], int32(p), int32(sl.id), want)
			budget--
			if want {
				rows++
			}
		}
	}
	if b.Len() == 0 {
		s.publish()
		return
	}
	if err := s.forward(b); err != nil {
		for _, sl := range s.slots {
			if sl.req != nil {
				s.finish(sl, StopCancelled, err)
			}
			// The cache may hold a half-written step: reuse none of it.
			sl.cached = sl.cached[:0]
		}
		return
	}
	vocab := s.e.Hyper().Vocab
	row := 0
	for i := 0; i < b.Len(); i++ {
		sl := s.slots[b.Seq[i]]
		sl.cached = append(sl.cached, b.Tokens[i])
		sl.n++
		if sl.req != nil && sl.n <= len(sl.req.feed) {
			s.stats.promptTokens.Add(1)
			sl.evaluated = true
		}
		if !b.Logits[i] {
			continue
		}
		logits := s.logits[row*vocab : (row+1)*vocab]
		row++
		if sl.req == nil {
			continue
		}
		if f := sl.req.opts.OnLogits; f != nil {
			if err := safeCall(func() error { f(int(b.Pos[i]), logits); return nil }); err != nil {
				s.finish(sl, StopCancelled, err)
				continue
			}
		}
		if sl.n >= len(sl.req.feed) {
			s.progressed(sl) // the whole prompt, before its first token
			s.produce(sl, logits)
		}
	}
	for _, sl := range s.slots {
		s.progressed(sl)
	}
	s.stats.steps.Add(1)
	s.publish()
}

// prefillOrder returns the slots with prompt tokens left to evaluate, in
// the order their requests were admitted.
func (s *scheduler) prefillOrder() []*slot {
	var out []*slot
	for _, sl := range s.slots {
		if sl.req != nil && sl.n < len(sl.req.feed) {
			out = append(out, sl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].req.order < out[j].req.order })
	return out
}

// forward runs the model on b. A panic in the model (a bug) becomes an
// error for the requests of this step instead of ending the process.
func (s *scheduler) forward(b *model.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error in the forward pass: %v", r)
		}
	}()
	return s.e.model.Forward(s.e.state, b, s.logits)
}

// produce samples the next token of sl from logits and delivers it.
func (s *scheduler) produce(sl *slot, logits []float32) {
	r := sl.req
	if sl.first.IsZero() {
		sl.first = time.Now()
	}
	var tok Token
	if r.opts.Logprobs {
		tok.Top = topLogprobs(logits, r.opts.TopLogprobs)
	}
	var lse float64
	if r.opts.Logprobs {
		lse = logSumExp(logits)
	}
	var distIDs []int32
	var distProbs []float32
	if n := r.opts.PostSamplingProbs; n > 0 {
		distIDs, distProbs = sl.samp.distribution(logits)
		for i := 0; i < len(distIDs) && len(tok.Probs) < n; i++ {
			if distProbs[i] > 0 {
				tok.Probs = append(tok.Probs, TokenProb{ID: distIDs[i], Prob: distProbs[i]})
			}
		}
	}
	var id int32
	if sl.con != nil {
		var ok bool
		if id, ok = sl.samp.sampleAllowed(logits, sl.con); !ok {
			s.flushText(sl)
			s.finish(sl, StopError, ErrGrammarStuck)
			return
		}
		if !s.e.tok.IsEOG(id) {
			sl.con.m.AcceptToken(sl.con.v.Piece(id))
		}
	} else {
		id = sl.samp.sample(logits)
	}
	sl.samp.accept(id, true)
	tok.ID = id
	if i := slices.Index(distIDs, id); i >= 0 {
		tok.Prob = distProbs[i]
	}
	if r.opts.Logprobs {
		tok.Logprob = float32(float64(logits[id]) - lse)
	}
	r.res.Tokens++
	s.stats.generated.Add(1)
	// Under a grammar an end-of-generation token means it is complete:
	// generation stops even with IgnoreEOG.
	if s.e.tok.IsEOG(id) && (!r.opts.IgnoreEOG || sl.con != nil) {
		r.res.Tokens--
		s.flushText(sl)
		s.finish(sl, StopEOG, nil)
		return
	}
	text, stopped := sl.stop.push(sl.dec.Add(id))
	tok.Text = text
	if !s.deliver(sl, tok) {
		return
	}
	switch {
	case stopped:
		s.finish(sl, StopString, nil)
	case r.opts.MaxTokens > 0 && r.res.Tokens >= r.opts.MaxTokens:
		s.flushText(sl)
		s.finish(sl, StopLength, nil)
	case sl.n+1 >= s.e.opts.Context && !(r.opts.ContextShift && s.shift(sl, id)):
		// The prompt and the tokens generated fill the context (the last
		// one would need a cell of its own to be continued).
		s.flushText(sl)
		s.finish(sl, StopContext, nil)
	default:
		sl.next = id
	}
}

// shift makes room in a full context, as llama-server's context shift:
// the first Keep tokens stay (and the BOS), half of the rest goes, and the
// sequence evaluates what is left, then id, anew (a sliding-window
// model's from the start: its ring cannot be rewound). It reports false
// when nothing can go.
func (s *scheduler) shift(sl *slot, id int32) bool {
	r := sl.req
	keep := r.opts.Keep
	if keep < 0 {
		keep = len(r.prompt)
	}
	if len(sl.cached) > 0 && s.e.tok.AddBOS() && sl.cached[0] == s.e.tok.BOS() {
		keep++
	}
	keep = max(0, min(keep, s.e.opts.Context-4, len(sl.cached)))
	discard := (len(sl.cached) - keep) / 2
	if discard <= 0 || len(sl.cached) != sl.n {
		return false
	}
	feed := make([]int32, 0, len(sl.cached)-discard+1)
	feed = append(feed, sl.cached[:keep]...)
	feed = append(feed, sl.cached[keep+discard:]...)
	r.feed = append(feed, id)
	if s.e.Hyper().Window > 0 {
		keep = 0
	}
	sl.n, sl.cached = keep, sl.cached[:keep]
	r.res.ContextShifts++
	return true
}

// flushText delivers the bytes the decoder and the stop filter hold back.
func (s *scheduler) flushText(sl *slot) {
	text, stopped := sl.stop.push(sl.dec.Flush())
	if !stopped {
		text += sl.stop.flush()
	}
	if text != "" {
		s.deliver(sl, Token{ID: -1, Text: text})
	}
}

// deliver calls the request's callback; an error from it (or a panic in
// it) ends the request.
func (s *scheduler) deliver(sl *slot, t Token) bool {
	if sl.req == nil {
		return false
	}
	if err := safeCall(func() error { return sl.req.onToken(t) }); err != nil {
		s.finish(sl, StopCancelled, err)
		return false
	}
	return true
}

// safeCall runs a caller's callback on the scheduler goroutine, turning a
// panic into an error so that one request cannot stop the others.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: callback panicked: %v", r)
		}
	}()
	return f()
}

func (s *scheduler) finish(sl *slot, why StopReason, err error) {
	r := sl.req
	if r == nil {
		return
	}
	now := time.Now()
	if sl.first.IsZero() {
		r.res.PromptTime = now.Sub(sl.start)
	} else {
		r.res.PromptTime = sl.first.Sub(sl.start)
		r.res.GenTime = now.Sub(sl.first)
	}
	r.res.StopReason = why
	r.err = err
	sl.req = nil
	sl.samp = nil
	sl.con = nil
	sl.dec = nil
	// What was evaluated stays in the cache for a later prompt to reuse.
	sl.cached = sl.cached[:sl.n]
	s.stats.requests.Add(1)
	// The gauges drop the request before its caller hears it ended, so a
	// caller that reads Stats after its last response sees it gone.
	s.publish()
	close(r.done)
}

func (s *scheduler) shutdown() {
	for _, sl := range s.slots {
		s.finish(sl, StopCancelled, ErrClosed)
	}
	s.mu.Lock()
	s.closed = true
	waiting := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, r := range waiting {
		r.err = ErrClosed
		close(r.done)
	}
	s.publish()
}

func logSumExp(x []float32) float64 {
	m := float64(x[argmax(x)])
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum)
}

// topLogprobs returns the k most likely tokens with their log-probabilities.
func topLogprobs(logits []float32, k int) []TokenLogprob {
	if k <= 0 {
		return nil
	}
	k = min(k, len(logits))
	lse := logSumExp(logits)
	idx := make([]int32, len(logits))
	for i := range idx {
		idx[i] = int32(i)
	}
	sortTopK(idx, logits, k)
	out := make([]TokenLogprob, k)
	for i := range out {
		out[i] = TokenLogprob{ID: idx[i], Logprob: float32(float64(logits[idx[i]]) - lse)}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Logprob > out[b].Logprob })
	return out
}
