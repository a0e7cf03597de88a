package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/grammar"
	"github.com/shimmer-llm/shimmer/sampling"
)

// GenerateOptions control one generation.
type GenerateOptions struct {
	SampleOptions
	// MaxTokens stops after this many generated tokens (≤ 0: until an
	// end-of-generation token or the end of the context).
	MaxTokens int
	// Stop ends generation when the text contains one of these strings;
	// the stop string and what follows are not emitted.
	Stop []string
	// PostSamplingProbs > 0 reports, with each token, that many of the
	// likeliest tokens of the distribution it was drawn from (Token.Probs;
	// llama-server's post_sampling_probs).
	PostSamplingProbs int
	// IgnoreEOG keeps generating: end-of-generation tokens get a logit
	// bias of -Inf, as llama.cpp's ignore_eos (but under a Grammar, whose
	// end such a token is).
	IgnoreEOG bool
	// NoSpecial encodes a text prompt without adding BOS/EOS and without
	// turning special-token text into special tokens.
	NoSpecial bool
	// Logprobs asks for the log-probability of each chosen token and of
	// the TopLogprobs most likely alternatives.
	Logprobs    bool
	TopLogprobs int
	// ContextShift makes room when prompt and completion fill the
	// context instead of stopping, as llama-server's --context-shift: the
	// first Keep tokens of the sequence (-1: the whole prompt) and its BOS
	// stay, half of the others go, and generation goes on (MaxTokens then
	// bounds it).
	ContextShift bool
	Keep         int
	// OnPromptProgress, when set, is told how far the prompt's evaluation
	// is: once when the request gets its sequence (the cached tokens
	// counted as processed), then after each chunk of the prompt. It is
	// called from the engine's loop and must return quickly.
	OnPromptProgress func(PromptProgress)
	// OnLogits, when set, receives the raw logits of every evaluated
	// position: each prompt position (evaluated in chunks that do not
	// change the numbers) and each generated token's successor. The slice
	// is only valid during the call.
	OnLogits func(pos int, logits []float32)
	// Grammar, when set, constrains the generated text to its sentences:
	// only tokens it allows are sampled (the distribution is the one
	// SampleOptions give over those), end-of-generation only where it can
	// end, and generation stops where it allows nothing more. A grammar
	// that allows no token the vocabulary can express fails the request
	// with ErrGrammarStuck.
	Grammar *grammar.Grammar
	// LoRA sets the scale of each loaded adapter for this request, as
	// llama-server's per-request "lora" list: the adapters listed get
	// their scale, the others 0. nil: the engine's default scales.
	LoRA []LoRAScale
}

// TokenLogprob is one alternative token and its log-probability.
type TokenLogprob struct {
	ID      int32
	Logprob float32
}

// Token is one generated token as passed to the callback of Generate.
type Token struct {
	// ID is the token chosen; -1 when the call only delivers text held
	// back until the end of generation (an incomplete UTF-8 character, or
	// the beginning of a stop string that did not follow).
	ID int32
	// Text is the text that became complete with this token: possibly
	// empty (inside a UTF-8 character, or held back while it may begin a
	// stop string), possibly more than one token's worth.
	Text string
	// Logprob and Top are set when GenerateOptions.Logprobs is.
	Logprob float32
	Top     []TokenLogprob
	// Probs, set when GenerateOptions.PostSamplingProbs is, are the most
	// likely tokens of the distribution the token was drawn from (after
	// the sampler chain), most likely first, none of probability 0.
	Probs []TokenProb
	// Prob is the chosen token's probability in that distribution.
	Prob float32
}

// PromptProgress is how much of a prompt has been evaluated: Processed of
// Total tokens, the first Cache of them reused from the cache, in Time
// since the request got its sequence.
type PromptProgress struct {
	Total, Cache, Processed int
	Time                    time.Duration
}

// TokenProb is a token with its probability.
type TokenProb struct {
	ID   int32
	Prob float32
}

// StopReason says why generation ended.
type StopReason string

// Stop reasons.
const (
	StopEOG       StopReason = "eog"       // an end-of-generation token
	StopString    StopReason = "stop"      // a stop string
	StopLength    StopReason = "length"    // MaxTokens reached
	StopContext   StopReason = "context"   // the sequence filled its context
	StopCancelled StopReason = "cancelled" // the context was cancelled
	StopError     StopReason = "error"     // the request failed (its error says why)
)

// Result summarizes a finished generation.
type Result struct {
	PromptTokens int // tokens in the prompt
	CachedTokens int // prompt tokens reused from the cache, not evaluated
	// ContextShifts counts the times ContextShift made room.
	ContextShifts int
	Tokens        int // generated tokens
	StopReason    StopReason
	// PromptTime is the time spent evaluating the prompt (until the first
	// token was chosen); GenTime the time from then to the end.
	PromptTime time.Duration
	GenTime    time.Duration
}

// Generate tokenizes prompt (adding BOS as the vocabulary asks and parsing
// special tokens, unless opts.NoSpecial) and generates its continuation,
// calling onToken for each token in order. A non-nil error from onToken
// stops generation and is returned. Cancelling ctx stops generation and
// frees the sequence at the next step.
func (e *Engine) Generate(ctx context.Context, prompt string, opts GenerateOptions, onToken func(Token) error) (Result, error) {
	// A text too long for the context is refused before it is tokenized.
	if n := e.tok.MinTokens(prompt); n > e.opts.Context {
		return Result{}, &ContextError{Tokens: n, Context: e.opts.Context, AtLeast: true}
	}
	ids := e.tok.Encode(prompt, !opts.NoSpecial, !opts.NoSpecial)
	return e.GenerateTokens(ctx, ids, opts, onToken)
}

// GenerateTokens is Generate with a prompt of token ids.
func (e *Engine) GenerateTokens(ctx context.Context, prompt []int32, opts GenerateOptions, onToken func(Token) error) (Result, error) {
	if len(prompt) == 0 {
		return Result{}, fmt.Errorf("engine: empty prompt")
	}
	if len(prompt) > e.opts.Context {
		return Result{PromptTokens: len(prompt)}, &ContextError{Tokens: len(prompt), Context: e.opts.Context}
	}
	vocab := e.Hyper().Vocab
	for _, id := range prompt {
		if id < 0 || int(id) >= vocab {
			return Result{}, fmt.Errorf("engine: token id %d out of range [0, %d)", id, vocab)
		}
	}
	scales, err := e.loraScales(opts.LoRA)
	if err != nil {
		return Result{}, err
	}
	if err := CheckSampleOptions(opts.SampleOptions); err != nil {
		return Result{}, fmt.Errorf("engine: %w", err)
	}
	if err := sampling.CheckBias(opts.LogitBias, vocab); err != nil {
		return Result{}, fmt.Errorf("engine: %w", err)
	}
	opts.LogitBias = e.EffectiveLogitBias(opts)
	if onToken == nil {
		onToken = func(Token) error { return nil }
	}
	r := &request{ctx: ctx, prompt: prompt, opts: opts, lora: scales, onToken: onToken, done: make(chan struct{})}
	if err := e.sched.submit(r); err != nil {
		return Result{}, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if e.sched.unqueue(r) {
			// It never reached a sequence.
			return Result{StopReason: StopCancelled}, ctx.Err()
		}
		// The scheduler notices the cancellation at its next step and
		// finishes the request; wait for it so the slot is free.
		<-r.done
	}
	return r.res, r.err
}

// EffectiveLogitBias is the logit bias a generation runs with: the
// options', and with IgnoreEOG (and no grammar, whose end is an
// end-of-generation token) -Inf on every end-of-generation token, as
// llama.cpp's ignore_eos.
func (e *Engine) EffectiveLogitBias(opts GenerateOptions) []sampling.Bias {
	if !opts.IgnoreEOG || opts.Grammar != nil {
		return opts.LogitBias
	}
	out := slices.Clip(opts.LogitBias)
	for _, id := range e.tok.EOG() {
		out = append(out, sampling.Bias{ID: id, Bias: float32(math.Inf(-1))})
	}
	return out
}

// ContextError reports a prompt longer than the context.
type ContextError struct {
	Tokens, Context int
	// AtLeast says Tokens is a lower bound: the text was refused by its
	// length before it was tokenized.
	AtLeast bool
}

func (e *ContextError) Error() string {
	if e.AtLeast {
		return fmt.Sprintf("engine: the prompt has at least %d tokens, more than the context of %d", e.Tokens, e.Context)
	}
	return fmt.Sprintf("engine: the prompt has %d tokens, more than the context of %d", e.Tokens, e.Context)
}

// stopFilter holds back text that may begin a stop string.
type stopFilter struct {
	stops   []string
	pending strings.Builder
}

// push adds text; it returns the text safe to emit and whether a stop
// string was found (then the text before it is returned and the rest is
// dropped).
func (f *stopFilter) push(text string) (string, bool) {
	if len(f.stops) == 0 {
		return text, false
	}
	f.pending.WriteString(text)
	s := f.pending.String()
	cut := -1
	for _, st := range f.stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		f.pending.Reset()
		return s[:cut], true
	}
	// Keep the longest suffix that is a prefix of a stop string.
	keep := 0
	for _, st := range f.stops {
		for n := min(len(st)-1, len(s)); n > keep; n-- {
			if strings.HasSuffix(s, st[:n]) {
				keep = n
				break
			}
		}
	}
	f.pending.Reset()
	f.pending.WriteString(s[len(s)-keep:])
	return s[:len(s)-keep], false
}

// flush returns what is held back.
func (f *stopFilter) flush() string {
	s := f.pending.String()
	f.pending.Reset()
	return s
}
