package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/grammar"
	smp "github.com/shimmer-llm/shimmer/sampling"
)

// Limits on request values.
const (
	maxStops       = 16
	maxTopLogprobs = 20
)

// generateOptions validates the sampling fields of a request and turns
// them into engine options. Unset fields take llama.cpp's defaults
// (engine.DefaultSampleOptions); without a seed, a random one.
func (s *backend) generateOptions(p *sampling) (engine.GenerateOptions, *apiError) {
	opts := engine.GenerateOptions{SampleOptions: engine.DefaultSampleOptions(), MaxTokens: s.opts.DefaultMaxTokens}
	if d := s.opts.Defaults; d != nil {
		opts.SampleOptions = *d
	}
	if e := p.unsupportedSamplers.check(); e != nil {
		return opts, e
	}
	so := &opts.SampleOptions
	if p.N != nil && *p.N != 1 {
		return opts, invalid("n", "'n' must be 1: this server returns one choice per request (send several requests instead)")
	}
	if p.MaxTokens != nil {
		if *p.MaxTokens < 1 {
			return opts, invalid("max_tokens", "'max_tokens' must be at least 1")
		}
		opts.MaxTokens = *p.MaxTokens
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
		dst    *float32
	}{
		{"temperature", p.Temperature, 0, 2, &so.Temperature},
		{"top_p", p.TopP, 0, 1, &so.TopP},
		{"min_p", p.MinP, 0, 1, &so.MinP},
		{"repeat_penalty", p.RepeatPenalty, 0.01, 10, &so.RepeatPenalty},
		{"presence_penalty", p.PresencePenalty, -2, 2, &so.PresencePenalty},
		{"frequency_penalty", p.FrequencyPenalty, -2, 2, &so.FrequencyPenalty},
		{"typical_p", p.TypicalP, 0, 1, &so.TypicalP},
		{"xtc_probability", p.XTCProbability, 0, 1, &so.XTCProbability},
		{"xtc_threshold", p.XTCThreshold, 0, 1, &so.XTCThreshold},
		{"top_n_sigma", p.TopNSigma, -1, 100, &so.TopNSigma},
		{"dynatemp_range", p.DynatempRange, 0, 10, &so.DynatempRange},
		{"dynatemp_exponent", p.DynatempExponent, 0, 100, &so.DynatempExponent},
		{"mirostat_tau", p.MirostatTau, 0, 100, &so.MirostatTau},
		{"dry_multiplier", p.DryMultiplier, 0, 100, &so.DRYMultiplier},
		{"dry_base", p.DryBase, 1, 100, &so.DRYBase},
		{"mirostat_eta", p.MirostatEta, 0, 10, &so.MirostatEta},
	} {
		if e := inRange(c.name, c.v, c.lo, c.hi, c.dst); e != nil {
			return opts, e
		}
	}
	if so.TopP == 0 {
		so.TopP = 1e-9 // only the most likely token
	}
	if p.TopK != nil {
		if *p.TopK < 0 {
			return opts, invalid("top_k", "'top_k' must not be negative")
		}
		so.TopK = *p.TopK
	}
	if p.RepeatLastN != nil {
		if *p.RepeatLastN < 0 || *p.RepeatLastN > s.e.Options().Context {
			return opts, invalid("repeat_last_n", "'repeat_last_n' must be between 0 and the context size %d", s.e.Options().Context)
		}
		so.RepeatLastN = *p.RepeatLastN
	}
	if e := dryOptions(&p.unsupportedSamplers, so, s.e.Options().Context); e != nil {
		return opts, e
	}
	if p.Mirostat != nil {
		if *p.Mirostat < 0 || *p.Mirostat > 2 {
			return opts, invalid("mirostat", "'mirostat' must be 0, 1 or 2")
		}
		so.Mirostat = *p.Mirostat
	}
	if len(p.Samplers) > 0 && string(p.Samplers) != "null" {
		order, e := samplerOrder(p.Samplers)
		if e != nil {
			return opts, e
		}
		so.Samplers = order
	}
	switch {
	case p.Seed != nil && *p.Seed != -1:
		so.Seed = uint64(*p.Seed)
	case s.opts.DefaultSeed:
		// The server's --seed.
	default:
		so.Seed = mrand.Uint64()
	}
	if len(p.Stop) > maxStops {
		return opts, invalid("stop", "'stop' holds %d strings; at most %d are allowed", len(p.Stop), maxStops)
	}
	for _, st := range p.Stop {
		if st != "" {
			opts.Stop = append(opts.Stop, st)
		}
	}
	bias, e := s.logitBias(p.LogitBias)
	if e != nil {
		return opts, e
	}
	so.LogitBias = bias
	opts.IgnoreEOG = p.IgnoreEOS
	opts.ContextShift = s.opts.ContextShift
	if p.NKeep != nil {
		if *p.NKeep < -1 {
			return opts, invalid("n_keep", "'n_keep' must be -1 (the whole prompt) or more")
		}
		opts.Keep = *p.NKeep
	}
	switch {
	case p.LoRA != nil:
		l, e := s.loraList(p.LoRA, "lora")
		if e != nil {
			return opts, e
		}
		opts.LoRA = l
	case s.adapter >= 0:
		// MODEL+ADAPTER: that adapter at scale 1, the others off.
		opts.LoRA = []engine.LoRAScale{{ID: s.adapter, Scale: 1}}
	}
	g, e := constraint(p)
	if e != nil {
		return opts, e
	}
	opts.Grammar = g
	return opts, nil
}

// constraint compiles a request's grammar, json_schema or response_format
// (at most one of them) into the grammar its output must follow.
func constraint(p *sampling) (*grammar.Grammar, *apiError) {
	var kinds []string
	if p.Grammar != nil && *p.Grammar != "" {
		kinds = append(kinds, "grammar")
	}
	if len(p.JSONSchema) > 0 && string(p.JSONSchema) != "null" {
		kinds = append(kinds, "json_schema")
	}
	f := p.ResponseFormat
	if f != nil && f.Type != "" && f.Type != "text" {
		kinds = append(kinds, "response_format")
	}
	switch {
	case len(kinds) == 0:
		return nil, nil
	case len(kinds) > 1:
		return nil, invalid(kinds[1], "give only one of 'grammar', 'json_schema' and 'response_format' (got %s)", strings.Join(kinds, ", "))
	}
	schemaGrammar := func(param string, schema []byte) (*grammar.Grammar, *apiError) {
		g, err := grammar.FromSchema(schema)
		if err != nil {
			return nil, invalid(param, "%s: %s", param, strings.TrimPrefix(err.Error(), "grammar: "))
		}
		return g, nil
	}
	switch kinds[0] {
	case "grammar":
		g, err := grammar.Compile(*p.Grammar)
		if err != nil {
			return nil, invalid("grammar", "'grammar': %s", strings.TrimPrefix(err.Error(), "grammar: "))
		}
		return g, nil
	case "json_schema":
		return schemaGrammar("json_schema", p.JSONSchema)
	}
	switch f.Type {
	case "json_object":
		if len(f.Schema) > 0 {
			return schemaGrammar("response_format.schema", f.Schema)
		}
		return schemaGrammar("response_format", []byte(`{"type":"object"}`))
	case "json_schema":
		switch {
		case f.JSONSchema != nil && len(f.JSONSchema.Schema) > 0:
			return schemaGrammar("response_format.json_schema.schema", f.JSONSchema.Schema)
		case len(f.Schema) > 0:
			return schemaGrammar("response_format.schema", f.Schema)
		}
		return nil, invalid("response_format.json_schema", "response_format json_schema needs 'json_schema': {'name', 'schema'}")
	}
	return nil, invalid("response_format.type", "response_format type %q is not supported (text, json_object, json_schema are)", f.Type)
}

// generationError maps an engine error to the API's.
func generationError(err error, promptParam string) *apiError {
	var ce *engine.ContextError
	switch {
	case errors.As(err, &ce):
		return contextError(promptParam, ce)
	case errors.Is(err, engine.ErrGrammarStuck):
		return &apiError{status: http.StatusBadRequest, Type: "invalid_request_error", Code: strPtr("grammar_stuck"),
			Message: "the output constraint (grammar, json_schema or response_format) allows no token the model's vocabulary can express at this point"}
	case errors.Is(err, engine.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, retryAfter: 1, Type: "server_error", Code: strPtr("server_busy"),
			Message: "the server is busy: every sequence is generating and the queue is full; retry later"}
	case errors.Is(err, engine.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, retryAfter: 5, Type: "server_error", Code: strPtr("shutting_down"),
			Message: "the server is shutting down"}
	default:
		return &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()}
	}
}

// finishReason maps a stop reason to OpenAI's finish_reason.
func finishReason(r engine.StopReason) *string {
	s := "stop"
	if r == engine.StopLength || r == engine.StopContext {
		s = "length"
	}
	return &s
}

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func makeUsage(r engine.Result) *usage {
	return &usage{PromptTokens: r.PromptTokens, CompletionTokens: r.Tokens, TotalTokens: r.PromptTokens + r.Tokens,
		PromptTokensDetails: &promptDetail{CachedTokens: r.CachedTokens}}
}

// inRange sets *dst to a field's value, refusing one outside [lo, hi].
func inRange(name string, v *float64, lo, hi float64, dst *float32) *apiError {
	if v == nil {
		return nil
	}
	if math.IsNaN(*v) || *v < lo || *v > hi {
		return invalid(name, "'%s' must be between %g and %g", name, lo, hi)
	}
	*dst = float32(*v)
	return nil
}

// dryOptions reads llama-server's DRY fields but the multiplier and
// base.
func dryOptions(u *unsupportedSamplers, so *engine.SampleOptions, ctx int) *apiError {
	if v := u.DryAllowedLength; v != nil {
		if *v < 0 || *v > ctx {
			return invalid("dry_allowed_length", "'dry_allowed_length' must be between 0 and the context size %d", ctx)
		}
		so.DRYAllowedLength = *v
	}
	if v := u.DryPenaltyLastN; v != nil {
		switch {
		case *v < -1 || *v > ctx:
			return invalid("dry_penalty_last_n", "'dry_penalty_last_n' must be -1 (the context), 0 (off) or up to the context size %d", ctx)
		case *v == 0:
			so.DRYMultiplier = 0
		default:
			so.DRYPenaltyLastN = max(*v, 0)
		}
	}
	if b := u.DrySequenceBreaks; b != nil {
		if len(*b) == 0 || len(*b) > 64 {
			return invalid("dry_sequence_breakers", "'dry_sequence_breakers' must be a list of 1 to 64 strings")
		}
		so.DRYBreakers = *b
	}
	return nil
}

// maxLogitBias bounds the entries of a logit_bias (OpenAI allows 300; a
// text key may stand for several tokens).
const maxLogitBias = 4096

// logitBias reads logit_bias as OpenAI writes it ({"ID": bias}) or as
// llama-server also takes it: keys that are text (each of its tokens
// gets the bias), or a list of [ID or text, bias] pairs; a bias of false
// bans the token.
func (s *backend) logitBias(raw json.RawMessage) ([]smp.Bias, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]json.RawMessage
	if raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, invalid("logit_bias", "'logit_bias' must map token ids to numbers")
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			kj, _ := json.Marshal(k)
			pairs = append(pairs, [2]json.RawMessage{kj, m[k]})
		}
	} else if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, invalid("logit_bias", "'logit_bias' must be an object {\"ID\": bias} or a list of [ID or text, bias] pairs")
	}
	vocab := s.e.Hyper().Vocab
	var out []smp.Bias
	for _, pr := range pairs {
		var bias float32
		var f float64
		var ban bool
		switch {
		case json.Unmarshal(pr[1], &f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0):
			bias = float32(f)
		case json.Unmarshal(pr[1], &ban) == nil && !ban:
			bias = float32(math.Inf(-1))
		default:
			return nil, invalid("logit_bias", "logit_bias: the bias of %s must be a number or false", pr[0])
		}
		var ids []int32
		var id int64
		var text string
		switch {
		case json.Unmarshal(pr[0], &id) == nil:
			ids = []int32{int32(id)}
			if id < 0 || id >= int64(vocab) {
				return nil, invalid("logit_bias", "logit_bias: token id %d is out of range [0, %d)", id, vocab)
			}
		case json.Unmarshal(pr[0], &text) == nil:
			if n, err := strconv.ParseInt(text, 10, 64); err == nil {
				if n < 0 || n >= int64(vocab) {
					return nil, invalid("logit_bias", "logit_bias: token id %d is out of range [0, %d)", n, vocab)
				}
				ids = []int32{int32(n)}
			} else {
				if len(text) > 1<<12 {
					return nil, invalid("logit_bias", "logit_bias: a text key is at most 4096 bytes")
				}
				ids = s.e.Tokenizer().Encode(text, false, false)
			}
		default:
			return nil, invalid("logit_bias", "logit_bias: %s is neither a token id nor a text", pr[0])
		}
		for _, id := range ids {
			out = append(out, smp.Bias{ID: id, Bias: bias})
		}
		if len(out) > maxLogitBias {
			return nil, invalid("logit_bias", "'logit_bias' stands for more than %d tokens", maxLogitBias)
		}
	}
	return out, nil
}

// validateIDs checks token ids given by a client.
func (s *backend) validateIDs(ids []int32, param string) *apiError {
	vocab := s.e.Hyper().Vocab
	for _, id := range ids {
		if id < 0 || int(id) >= vocab {
			return invalid(param, "token id %d is out of range [0, %d)", id, vocab)
		}
	}
	return nil
}

// collect runs a generation to its end, gathering its tokens.
func (s *backend) collect(ctx context.Context, prompt []int32, opts engine.GenerateOptions) ([]engine.Token, engine.Result, error) {
	var toks []engine.Token
	start := time.Now()
	watch := watchCancel(ctx)
	res, err := s.e.GenerateTokens(ctx, prompt, opts, func(t engine.Token) error {
		if len(toks) == 0 {
			s.metrics.ttft.Observe(time.Since(start).Seconds())
		}
		// Runs on the scheduler goroutine: keep it short.
		watch.token(t)
		toks = append(toks, t)
		return nil
	})
	watch.done(s.metrics)
	s.metrics.finished(res)
	return toks, res, err
}

// collectAll runs generations together (several prompts, or several
// choices of one) and gathers each one's tokens; it returns the first
// error.
func (s *backend) collectAll(ctx context.Context, prompts [][]int32, opts []engine.GenerateOptions) ([][]engine.Token, []engine.Result, error) {
	toks := make([][]engine.Token, len(prompts))
	res := make([]engine.Result, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], res[i], errs[i] = s.collect(ctx, prompts[i], opts[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return toks, res, err
		}
	}
	return toks, res, nil
}

// splitReply splits a chat reply into reasoning (a harmony template's
// analysis channel), content and the calls of tools it holds.
func (s *backend) splitReply(text string, tools []chat.Tool) (reasoning, content string, calls []chat.ToolCall) {
	content = text
	if chat.IsHarmony(s.tpl.Source()) {
		h := chat.ParseHarmony(text, toolsOrNone(tools))
		reasoning, content, calls = h.Reasoning, h.Content, h.ToolCalls
	}
	if tools != nil && len(calls) == 0 {
		content, calls = readCalls(content, tools)
	}
	return reasoning, content, calls
}

// replyStream is splitReply for a stream: Push splits each piece of text
// as it comes (reasoning, and content, of which text that may begin a
// tool call is held back), Finish gives what was held and the calls.
type replyStream struct {
	harmony bool
	tools   []chat.Tool
	hs      chat.HarmonyStream
	held    chat.ToolStream
}

func (s *backend) replyStream(tools []chat.Tool) *replyStream {
	return &replyStream{harmony: chat.IsHarmony(s.tpl.Source()), tools: tools}
}

func (rs *replyStream) Push(text string) (reasoning, content string) {
	content = text
	if rs.harmony {
		reasoning, content = rs.hs.Push(text)
	}
	if rs.tools != nil {
		content = rs.held.Push(content)
	}
	return reasoning, content
}

func (rs *replyStream) Finish() (reasoning, content string, calls []chat.ToolCall) {
	if rs.harmony {
		reasoning, content, calls = rs.hs.Finish(toolsOrNone(rs.tools))
		if rs.tools != nil {
			content = rs.held.Push(content) + rs.held.Held()
		}
	} else if rs.tools != nil {
		content = rs.held.Held()
	}
	if rs.tools != nil && len(calls) == 0 {
		content, calls = readCalls(content, rs.tools)
	}
	return reasoning, content, calls
}

// cancelWatch counts the tokens a generation produces after its context
// is cancelled: at most one (the step under way) when the scheduler frees
// the sequence as it should. The count at the cancel is taken by the
// first token, or the end, that sees the context done: the count changes
// only there, so that is the count the moment of the cancel had.
type cancelWatch struct {
	ctx      context.Context
	mu       sync.Mutex
	count    int
	atCancel int // -1 until cancelled
}

func watchCancel(ctx context.Context) *cancelWatch {
	return &cancelWatch{ctx: ctx, atCancel: -1}
}

// cancelled records the count at the cancel, once (w.mu held).
func (w *cancelWatch) cancelled() {
	if w.atCancel < 0 && w.ctx.Err() != nil {
		w.atCancel = w.count
	}
}

func (w *cancelWatch) token(t engine.Token) {
	if t.ID < 0 {
		return
	}
	w.mu.Lock()
	w.cancelled()
	w.count++
	w.mu.Unlock()
}

// done records the count once the generation has returned.
func (w *cancelWatch) done(m *metrics) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancelled()
	if w.atCancel >= 0 {
		m.afterCancel.Observe(float64(w.count - w.atCancel))
	}
}

// stream is a generation running in its own goroutine; its tokens are
// handed to the request's goroutine, so that a slow client never holds up
// the scheduler (which would stall every sequence).
type stream struct {
	mu       sync.Mutex
	toks     []engine.Token
	progress []engine.PromptProgress // reports not yet taken (when asked for)
	ready    chan struct{}           // signalled when toks grows
	done     chan struct{}           // closed when res and err are final
	res      engine.Result
	err      error
}

func (s *backend) startStream(ctx context.Context, prompt []int32, opts engine.GenerateOptions) *stream {
	st := &stream{ready: make(chan struct{}, 1), done: make(chan struct{})}
	start := time.Now()
	first := true
	watch := watchCancel(ctx)
	if opts.OnPromptProgress != nil {
		opts.OnPromptProgress = func(p engine.PromptProgress) {
			st.mu.Lock()
			st.progress = append(st.progress, p)
			st.mu.Unlock()
			select {
			case st.ready <- struct{}{}:
			default:
			}
		}
	}
	go func() {
		defer close(st.done)
		defer func() {
			if p := recover(); p != nil {
				st.err = errors.New("server: internal error")
				s.log.Error("panic in a generation", "panic", p)
			}
		}()
		st.res, st.err = s.e.GenerateTokens(ctx, prompt, opts, func(t engine.Token) error {
			if first {
				first = false
				s.metrics.ttft.Observe(time.Since(start).Seconds())
			}
			watch.token(t)
			st.mu.Lock()
			st.toks = append(st.toks, t)
			st.mu.Unlock()
			select {
			case st.ready <- struct{}{}:
			default:
			}
			return nil
		})
		watch.done(s.metrics)
		s.metrics.finished(st.res)
	}()
	return st
}

// next waits for tokens or the end of the generation; it returns the
// tokens not yet taken and whether the generation has ended (then they
// are the last).
func (st *stream) next() ([]engine.Token, bool) {
	ended := false
	select {
	case <-st.ready:
	case <-st.done:
		ended = true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	toks := st.toks
	st.toks = nil
	return toks, ended
}

// sse writes server-sent events, each within the write timeout.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	ndjson  bool // ollama's framing: a JSON object a line, errors as {"error": "message"}
}

func (s *Server) startSSE(w http.ResponseWriter) *sse { return s.startResponse(w, false) }

// startResponse sends the headers of a streamed response: server-sent
// events, or ollama's NDJSON.
func (s *Server) startResponse(w http.ResponseWriter, ndjson bool) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	if ndjson {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout, ndjson: ndjson}
}

func (e *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.raw(b)
}

func (e *sse) raw(data []byte) error {
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	buf := make([]byte, 0, len(data)+8)
	if e.ndjson {
		buf = append(append(buf, data...), '\n')
	} else {
		buf = append(append(append(buf, "data: "...), data...), "\n\n"...)
	}
	if _, err := e.w.Write(buf); err != nil {
		return err
	}
	return e.rc.Flush()
}

// runStream streams a generation: it waits for the first token (so that
// an error such as a full queue is still an HTTP status), then calls begin
// once and each for every batch of tokens, and end at the finish. A write
// error (the client went away) cancels the generation.
func (s *backend) runStream(w http.ResponseWriter, r *http.Request, prompt []int32, opts engine.GenerateOptions, promptParam string,
	begin func(*sse) error, each func(*sse, []engine.Token) error, end func(*sse, engine.Result) error, progress ...func(*sse, engine.PromptProgress) error) {
	s.runStreamAs(w, r, prompt, opts, promptParam, false, begin, each, end, progress...)
}

// runStreamAs is runStream framed as server-sent events, or (ndjson) as
// ollama streams.
func (s *backend) runStreamAs(w http.ResponseWriter, r *http.Request, prompt []int32, opts engine.GenerateOptions, promptParam string, ndjson bool,
	begin func(*sse) error, each func(*sse, []engine.Token) error, end func(*sse, engine.Result) error, progress ...func(*sse, engine.PromptProgress) error) {
	ctx, cancel := context.WithCancel(r.Context())
	opts.OnPromptProgress = nil
	if len(progress) > 0 {
		opts.OnPromptProgress = func(engine.PromptProgress) {} // startStream gathers the reports
	}
	st := s.startStream(ctx, prompt, opts)
	defer func() {
		cancel()
		<-st.done
	}()
	toks, ended := st.next()
	if ended && st.err != nil {
		if ndjson {
			s.ollamaFail(w, ctx, st.err)
			return
		}
		s.failGeneration(w, ctx, st.err, promptParam)
		return
	}
	out := s.startResponse(w, ndjson)
	if err := begin(out); err != nil {
		return
	}
	for {
		// Progress reports come before the tokens they precede.
		st.mu.Lock()
		reports := st.progress
		st.progress = nil
		st.mu.Unlock()
		for _, p := range reports {
			if err := progress[0](out, p); err != nil {
				return
			}
		}
		if len(toks) > 0 {
			if err := each(out, toks); err != nil {
				return
			}
		}
		if ended {
			break
		}
		toks, ended = st.next()
	}
	if st.err != nil {
		var e *apiError
		switch {
		case ctx.Err() == nil:
			e = generationError(st.err, promptParam)
		case shuttingDown(ctx):
			e = generationError(engine.ErrClosed, promptParam)
		default:
			return
		}
		if ndjson {
			out.send(map[string]any{"error": e.Message})
		} else {
			out.send(map[string]any{"error": e})
		}
		return
	}
	if end(out, st.res) == nil && !ndjson {
		out.raw([]byte("[DONE]"))
	}
	// errNoDone: a native stream, which ends without [DONE].
}

// tooLong is the 400 for a prompt that cannot fit the context.
func (s *backend) tooLong(param string, err *engine.ContextError) *apiError {
	return contextError(param, err)
}

// contextError is a prompt too long for the context: OpenAI's code
// context_length_exceeded, llama-server's type exceed_context_size_error
// with the prompt's tokens (at least) and the context.
func contextError(param string, err *engine.ContextError) *apiError {
	return &apiError{status: http.StatusBadRequest, Type: "exceed_context_size_error", Param: strPtr(param), Code: strPtr("context_length_exceeded"),
		Message: strings.TrimPrefix(err.Error(), "engine: ") + "; the request exceeds the available context size, shorten it",
		NPrompt: err.Tokens, NCtx: err.Context}
}

// tokenizeSlot waits for one of the slots that bound how many requests
// tokenize at once (each holds its prompt's text and tokens in memory).
func (s *Server) tokenizeSlot(ctx context.Context) (release func(), e *apiError) {
	select {
	case s.tokSem <- struct{}{}:
		s.tokenized.Add(1)
		return func() { <-s.tokSem }, nil
	case <-ctx.Done():
		return nil, &apiError{status: clientGone, Type: "invalid_request_error", Message: "the client went away"}
	}
}

// encode tokenizes a prompt text as `shimmer run` does (BOS as the
// vocabulary asks, special tokens parsed), refusing a text that cannot fit
// the context before tokenizing it.
func (s *backend) encode(ctx context.Context, text, param string) ([]int32, *apiError) {
	tok, c := s.e.Tokenizer(), s.e.Options().Context
	if n := tok.MinTokens(text); n > c {
		return nil, s.tooLong(param, &engine.ContextError{Tokens: n, Context: c, AtLeast: true})
	}
	release, e := s.tokenizeSlot(ctx)
	if e != nil {
		return nil, e
	}
	defer release()
	return tok.Encode(text, true, true), nil
}

// chatPrompt renders and tokenizes chat messages, refusing messages whose
// text alone cannot fit the context before rendering them.
func (s *backend) chatPrompt(ctx context.Context, msgs []chat.Message, vars map[string]any) ([]int32, *apiError) {
	return s.chatPromptWith(ctx, msgs, vars, true, "")
}

// chatPromptWith is chatPrompt with or without the generation prompt and
// with the beginning of the reply appended (chat.Template.PromptWith).
func (s *backend) chatPromptWith(ctx context.Context, msgs []chat.Message, vars map[string]any, addGen bool, prefill string) ([]int32, *apiError) {
	tok, c := s.e.Tokenizer(), s.e.Options().Context
	if n := tok.MinTokensOf(chat.ContentBytes(msgs)); n > c {
		return nil, s.tooLong("messages", &engine.ContextError{Tokens: n, Context: c, AtLeast: true})
	}
	release, e := s.tokenizeSlot(ctx)
	if e != nil {
		return nil, e
	}
	defer release()
	if n := tok.MinTokens(prefill); n > c {
		return nil, s.tooLong("messages", &engine.ContextError{Tokens: n, Context: c, AtLeast: true})
	}
	prompt, err := s.tpl.PromptWith(tok, msgs, vars, addGen, prefill)
	if err != nil {
		return nil, invalid("messages", "the chat template cannot render these messages: %s", strings.TrimPrefix(err.Error(), "chat: "))
	}
	return prompt, nil
}

// errShuttingDown is the cause with which Serve cancels the requests still
// running when its grace period is over.
var errShuttingDown = errors.New("server: shutting down")

func shuttingDown(ctx context.Context) bool { return errors.Is(context.Cause(ctx), errShuttingDown) }

// failGeneration answers a generation that ended in err: with its error
// while the client waits, with the shutting_down 503 when the server
// cancelled it, and not at all when the client went away.
func (s *backend) failGeneration(w http.ResponseWriter, ctx context.Context, err error, param string) {
	switch {
	case ctx.Err() == nil:
		e := generationError(err, param)
		if errors.Is(err, engine.ErrBusy) {
			e.retryAfter = s.retryAfter()
		}
		writeError(w, e)
	case shuttingDown(ctx):
		w.Header().Set("Connection", "close")
		writeError(w, generationError(engine.ErrClosed, param))
	}
}

// retryAfter estimates, in seconds, when a sequence will be free for a
// request refused now: the queue ahead of it times the mean generation
// length, at the recent token rate of all sequences (at least 1 s, at most
// 2 min; without a rate yet, a second per queued request a sequence).
func (s *backend) retryAfter() int {
	st := s.e.Stats()
	wait := float64(st.Queued+1) / float64(max(1, st.Sequences))
	if st.Requests > 0 && st.TokensPerSecond > 0 {
		perRequest := float64(st.GeneratedTokens) / float64(st.Requests)
		wait = float64(st.Queued+st.Active) * perRequest / st.TokensPerSecond
	}
	return int(min(120, max(1, math.Ceil(wait))))
}

// samplerOrder reads llama-server's "samplers": a list of names or a
// string of one-letter names.
func samplerOrder(raw json.RawMessage) ([]smp.Kind, *apiError) {
	var names []string
	var chars string
	var order []smp.Kind
	var err error
	switch {
	case json.Unmarshal(raw, &names) == nil:
		order, err = smp.ParseOrder(names)
	case json.Unmarshal(raw, &chars) == nil:
		order, err = smp.ParseOrderChars(chars)
	default:
		return nil, invalid("samplers", "'samplers' must be a list of sampler names or a string of their letters")
	}
	if err != nil {
		return nil, invalid("samplers", "%v", err)
	}
	return order, nil
}
