package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
	smp "github.com/shimmer-llm/shimmer/sampling"
)

// llama-server's native endpoints: POST /completion (and /completions),
// GET /props, POST /apply-template. They take the same sampling fields as
// the OpenAI endpoints and answer in llama-server's shapes.

// nativeRequest is POST /completion's body.
type nativeRequest struct {
	sampling
	Prompt       json.RawMessage `json:"prompt"`
	NPredict     *int            `json:"n_predict"`
	ReturnTokens bool            `json:"return_tokens"`
	CachePrompt  *bool           `json:"cache_prompt"` // always on: prompts share cached prefixes
	IDSlot       *int            `json:"id_slot"`      // any free slot is used
}

// nativeResult is a /completion response, or one streamed chunk of it.
type nativeResult struct {
	Index           int            `json:"index"`
	Content         string         `json:"content"`
	Tokens          []int32        `json:"tokens"`
	IDSlot          int            `json:"id_slot"`
	Stop            bool           `json:"stop"`
	Model           string         `json:"model,omitempty"`
	TokensPredicted int            `json:"tokens_predicted"`
	TokensEvaluated int            `json:"tokens_evaluated"`
	Settings        map[string]any `json:"generation_settings,omitempty"`
	Prompt          *string        `json:"prompt,omitempty"`
	HasNewLine      *bool          `json:"has_new_line,omitempty"`
	Truncated       *bool          `json:"truncated,omitempty"`
	StopType        string         `json:"stop_type,omitempty"`
	StoppingWord    *string        `json:"stopping_word,omitempty"`
	TokensCached    *int           `json:"tokens_cached,omitempty"`
	Timings         map[string]any `json:"timings,omitempty"`
}

// errNoDone ends a stream without OpenAI's [DONE] line (llama-server's
// native streams have none).
var errNoDone = errors.New("no [DONE]")

// handleNative serves POST /completion and /completions.
func (s *Server) handleNative(w http.ResponseWriter, r *http.Request) {
	var req nativeRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	if req.NPredict != nil && *req.NPredict > 0 {
		n := *req.NPredict
		req.MaxTokens = &n
	}
	opts, e := b.generateOptions(&req.sampling)
	if e != nil {
		writeError(w, e)
		return
	}
	if req.NPredict != nil && *req.NPredict < 0 {
		opts.MaxTokens = 0 // -1: until the end of generation or the context
	}
	prompt, e := b.nativePrompt(r.Context(), req.Prompt)
	if e != nil {
		writeError(w, e)
		return
	}
	settings := b.generationSettings(opts, req.Stream)
	final := func(res engine.Result, content string, ids []int32) nativeResult {
		text := b.e.Tokenizer().Decode(prompt, false)
		nl, trunc, word := strings.Contains(content, "\n"), false, ""
		cached := res.PromptTokens + res.Tokens
		out := nativeResult{Content: content, Tokens: ids, IDSlot: -1, Stop: true, Model: b.name,
			TokensPredicted: res.Tokens, TokensEvaluated: res.PromptTokens, Settings: settings, Prompt: &text,
			HasNewLine: &nl, Truncated: &trunc, StopType: stopType(res.StopReason), StoppingWord: &word,
			TokensCached: &cached, Timings: timings(res)}
		if out.Tokens == nil {
			out.Tokens = []int32{}
		}
		return out
	}
	if req.NPredict != nil && *req.NPredict == 0 {
		// Nothing to predict: llama-server answers at once.
		b.writeJSON(w, final(engine.Result{PromptTokens: len(prompt), StopReason: engine.StopLength}, "", nil))
		return
	}
	ids := func(toks []engine.Token) []int32 {
		out := []int32{}
		if req.ReturnTokens {
			for _, t := range toks {
				if t.ID >= 0 {
					out = append(out, t.ID)
				}
			}
		}
		return out
	}
	if !req.Stream {
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "prompt")
			return
		}
		b.writeJSON(w, final(res, joinText(toks), ids(toks)))
		return
	}
	predicted := 0
	b.runStream(w, r, prompt, opts, "prompt",
		func(*sse) error { return nil },
		func(out *sse, toks []engine.Token) error {
			for _, t := range toks {
				if t.ID >= 0 {
					predicted++
				}
			}
			return out.send(nativeResult{Content: joinText(toks), Tokens: ids(toks), IDSlot: -1,
				TokensPredicted: predicted, TokensEvaluated: len(prompt)})
		},
		func(out *sse, res engine.Result) error {
			if err := out.send(final(res, "", nil)); err != nil {
				return err
			}
			return errNoDone
		})
}

// nativePrompt reads /completion's prompt: what /v1/completions takes, or
// an array mixing strings and token ids (the first string tokenized with
// the vocabulary's special tokens, the others without).
func (s *backend) nativePrompt(ctx context.Context, raw json.RawMessage) ([]int32, *apiError) {
	var mixed []json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(raw), &mixed) != nil || len(mixed) < 2 {
		return s.completionPrompt(ctx, raw)
	}
	var out []int32
	hasText := false
	for i, m := range mixed {
		var id int32
		var text string
		switch {
		case json.Unmarshal(m, &id) == nil:
			out = append(out, id)
		case json.Unmarshal(m, &text) == nil:
			if !hasText && i == 0 {
				ids, e := s.encode(ctx, text, "prompt")
				if e != nil {
					return nil, e
				}
				out = append(out, ids...)
			} else {
				out = append(out, s.e.Tokenizer().Encode(text, false, true)...)
			}
			hasText = true
		default:
			return s.completionPrompt(ctx, raw)
		}
	}
	if len(out) > s.e.Options().Context {
		return nil, s.tooLong("prompt", &engine.ContextError{Tokens: len(out), Context: s.e.Options().Context})
	}
	return out, s.validateIDs(out, "prompt")
}

func stopType(r engine.StopReason) string {
	switch r {
	case engine.StopEOG:
		return "eos"
	case engine.StopString:
		return "word"
	case engine.StopLength, engine.StopContext:
		return "limit"
	}
	return "none"
}

func timings(res engine.Result) map[string]any {
	pn := res.PromptTokens - res.CachedTokens
	pms, gms := float64(res.PromptTime)/float64(time.Millisecond), float64(res.GenTime)/float64(time.Millisecond)
	per := func(ms float64, n int) (float64, float64) {
		if n == 0 || ms == 0 {
			return 0, 0
		}
		return ms / float64(n), 1000 * float64(n) / ms
	}
	ppt, pps := per(pms, pn)
	gpt, gps := per(gms, res.Tokens)
	return map[string]any{"cache_n": res.CachedTokens, "prompt_n": pn, "prompt_ms": pms, "prompt_per_token_ms": ppt, "prompt_per_second": pps,
		"predicted_n": res.Tokens, "predicted_ms": gms, "predicted_per_token_ms": gpt, "predicted_per_second": gps}
}

// generationSettings are a request's options as llama-server reports
// them (generation_settings, /props' default_generation_settings.params).
func (s *backend) generationSettings(o engine.GenerateOptions, stream bool) map[string]any {
	p := engine.SamplingParams(o.SampleOptions)
	order := p.Order
	if order == nil {
		order = smp.DefaultOrder
	}
	samplers := []string{}
	for _, k := range order {
		samplers = append(samplers, string(k))
	}
	np := -1
	if o.MaxTokens > 0 {
		np = o.MaxTokens
	}
	stop := o.Stop
	if stop == nil {
		stop = []string{}
	}
	lora := []map[string]any{}
	for _, l := range o.LoRA {
		lora = append(lora, map[string]any{"id": l.ID, "scale": l.Scale})
	}
	return map[string]any{"n_predict": np, "seed": p.Seed, "temperature": p.Temp, "top_k": p.TopK, "top_p": p.TopP,
		"min_p": p.MinP, "typical_p": p.TypicalP, "repeat_last_n": p.PenaltyLastN, "repeat_penalty": p.PenaltyRepeat,
		"presence_penalty": p.PenaltyPresent, "frequency_penalty": p.PenaltyFreq, "xtc_probability": p.XTCProbability,
		"xtc_threshold": p.XTCThreshold, "top_n_sigma": p.TopNSigma, "dynatemp_range": p.DynatempRange,
		"dynatemp_exponent": p.DynatempExponent, "mirostat": p.Mirostat, "mirostat_tau": p.MirostatTau, "mirostat_eta": p.MirostatEta,
		"stop": stop, "max_tokens": np, "n_probs": 0, "min_keep": p.MinKeep, "ignore_eos": o.IgnoreEOG, "stream": stream,
		"samplers": samplers, "lora": lora, "dry_multiplier": p.DRYMultiplier}
}

// handleProps serves GET /props as llama-server's: the default
// generation settings, the slots, the model and its chat template. POST
// /props (which llama-server allows only with --props) is refused.
func (s *Server) handleProps(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeError(w, &apiError{status: http.StatusForbidden, Type: "permission_error",
			Message: "This server does not support changing global properties."})
		return
	}
	b, release, e := s.acquire(r.Context(), r.URL.Query().Get("model"))
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	opts, _ := b.generateOptions(&sampling{})
	tok := b.e.Tokenizer()
	n := b.e.Options().Context
	path := ""
	if sl := s.models.byName[b.name]; sl != nil {
		path = sl.m.Path
	}
	s.writeJSON(w, map[string]any{
		"default_generation_settings": map[string]any{"id": 0, "id_task": -1, "n_ctx": n, "speculative": false,
			"is_processing": false, "params": b.generationSettings(opts, false)},
		"total_slots": b.e.Options().Sequences, "model_alias": b.name, "model_path": path,
		"chat_template": b.tpl.Source(), "bos_token": tokenText(tok.BOS(), tok), "eos_token": tokenText(tok.EOS(), tok),
		"build_info": "shimmer", "modalities": map[string]bool{"vision": false, "audio": false},
	})
}

// handleApplyTemplate serves POST /apply-template: a chat request's
// messages, tools and chat_template_kwargs → {"prompt": the rendered
// text}, with the generation prompt added.
func (s *Server) handleApplyTemplate(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	msgs, e := chatMessages(req.Messages)
	if e != nil {
		writeError(w, e)
		return
	}
	var opts engine.GenerateOptions
	tools, e := b.toolSetup(&req, &opts)
	if e != nil {
		writeError(w, e)
		return
	}
	vars := req.ChatTemplateKwargs
	if tools != nil {
		vars, msgs = b.withTools(tools, vars, msgs)
	}
	out, err := b.tpl.Render(msgs, true, vars)
	if err != nil {
		writeError(w, invalid("messages", "the chat template cannot render these messages: %s", strings.TrimPrefix(err.Error(), "chat: ")))
		return
	}
	s.writeJSON(w, map[string]string{"prompt": out})
}
