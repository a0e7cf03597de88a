package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
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
	Prompt            json.RawMessage `json:"prompt"`
	NPredict          *int            `json:"n_predict"`
	ReturnTokens      bool            `json:"return_tokens"`
	CachePrompt       *bool           `json:"cache_prompt"` // always on: prompts share cached prefixes
	IDSlot            *int            `json:"id_slot"`      // any free slot is used
	NProbs            int             `json:"n_probs"`
	PostSamplingProbs bool            `json:"post_sampling_probs"`
	ResponseFields    []string        `json:"response_fields"`
	// /infill's: the text before and after the hole (strings, or
	// strings and token ids mixed), other files of the project.
	InputPrefix json.RawMessage `json:"input_prefix"`
	InputSuffix json.RawMessage `json:"input_suffix"`
	InputExtra  []struct {
		Text     *string `json:"text"`
		Filename *string `json:"filename"`
	} `json:"input_extra"`
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
	Probs           []nativeProb   `json:"completion_probabilities,omitempty"`
}

// nativeProb is one entry of completion_probabilities: a token with its
// log-probability and the likeliest alternatives before sampling, or
// (post_sampling_probs) its probability and the likeliest tokens of the
// distribution it was drawn from.
type nativeProb struct {
	ID          int32        `json:"id"`
	Token       string       `json:"token"`
	Bytes       []int        `json:"bytes"`
	Logprob     *float64     `json:"logprob,omitempty"`
	Prob        *float64     `json:"prob,omitempty"`
	TopLogprobs []nativeProb `json:"top_logprobs,omitempty"`
	TopProbs    []nativeProb `json:"top_probs,omitempty"`
}

// maxNProbs bounds n_probs.
const maxNProbs = 100

// errNoDone ends a stream without OpenAI's [DONE] line (llama-server's
// native streams have none).
var errNoDone = errors.New("no [DONE]")

// handleNative serves POST /completion and /completions.
func (s *Server) handleNative(w http.ResponseWriter, r *http.Request) { s.native(w, r, false) }

// handleInfill serves POST /infill: fill-in-the-middle with the model's
// FIM tokens (infillPrompt), answered as /completion.
func (s *Server) handleInfill(w http.ResponseWriter, r *http.Request) { s.native(w, r, true) }

func (s *Server) native(w http.ResponseWriter, r *http.Request, infill bool) {
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
	if req.NProbs < 0 || req.NProbs > maxNProbs {
		writeError(w, invalid("n_probs", "'n_probs' must be between 0 and %d", maxNProbs))
		return
	}
	if req.NProbs > 0 {
		if req.PostSamplingProbs {
			opts.PostSamplingProbs = req.NProbs
		} else {
			opts.Logprobs, opts.TopLogprobs = true, req.NProbs
		}
	}
	var prompts [][]int32
	if infill {
		p, e := b.infillPrompt(r.Context(), &req)
		if e != nil {
			writeError(w, e)
			return
		}
		prompts = [][]int32{p}
	} else {
		prompts, e = b.nativePrompts(r.Context(), req.Prompt)
		if e != nil {
			writeError(w, e)
			return
		}
	}
	if len(prompts) > 1 {
		if req.Stream {
			writeError(w, invalid("stream", "several prompts cannot be streamed; send one request per prompt"))
			return
		}
		if len(prompts) > maxPrompts {
			writeError(w, invalid("prompt", "'prompt' holds %d prompts; at most %d are allowed", len(prompts), maxPrompts))
			return
		}
	}
	settings := b.generationSettings(opts, req.Stream)
	final := func(prompt []int32, res engine.Result, content string, toks []engine.Token) nativeResult {
		text := b.e.Tokenizer().Decode(prompt, true)
		nl, trunc, word := strings.Contains(content, "\n"), res.StopReason == engine.StopContext || res.ContextShifts > 0, ""
		cached := res.PromptTokens + res.Tokens
		out := nativeResult{Content: content, Tokens: b.nativeIDs(toks, req.ReturnTokens), IDSlot: -1, Stop: true, Model: b.name,
			TokensPredicted: res.Tokens, TokensEvaluated: res.PromptTokens, Settings: settings, Prompt: &text,
			HasNewLine: &nl, Truncated: &trunc, StopType: stopType(res.StopReason), StoppingWord: &word,
			TokensCached: &cached, Timings: timings(res), Probs: b.nativeProbs(toks, req.NProbs > 0)}
		return out
	}
	if req.NPredict != nil && *req.NPredict == 0 || !req.Stream {
		toks := make([][]engine.Token, len(prompts))
		results := make([]engine.Result, len(prompts))
		if req.NPredict != nil && *req.NPredict == 0 {
			// Nothing to predict: llama-server answers at once.
			for i, p := range prompts {
				results[i] = engine.Result{PromptTokens: len(p), StopReason: engine.StopLength}
			}
		} else {
			each := make([]engine.GenerateOptions, len(prompts))
			for i := range each {
				each[i] = opts
			}
			var err error
			if toks, results, err = b.collectAll(r.Context(), prompts, each); err != nil {
				b.failGeneration(w, r.Context(), err, "prompt")
				return
			}
		}
		outs := make([]any, len(prompts))
		for i, p := range prompts {
			o := final(p, results[i], joinText(toks[i]), toks[i])
			o.Index = i
			outs[i] = fields(o, req.ResponseFields)
		}
		if len(prompts) == 1 {
			b.writeJSON(w, outs[0])
			return
		}
		b.writeJSON(w, outs)
		return
	}
	prompt := prompts[0]
	predicted := 0
	b.runStream(w, r, prompt, opts, "prompt",
		func(*sse) error { return nil },
		func(out *sse, toks []engine.Token) error {
			// One chunk per token, with its id, as llama-server's; text
			// held back (no id) goes with the next token.
			start := 0
			for i, t := range toks {
				if t.ID < 0 && i < len(toks)-1 {
					continue
				}
				part := toks[start : i+1]
				start = i + 1
				if t.ID >= 0 {
					predicted++
				}
				if err := out.send(nativeResult{Content: joinText(part), Tokens: b.nativeIDs(part, true), IDSlot: -1,
					TokensPredicted: predicted, TokensEvaluated: len(prompt), Probs: b.nativeProbs(part, req.NProbs > 0)}); err != nil {
					return err
				}
			}
			return nil
		},
		func(out *sse, res engine.Result) error {
			if err := out.send(final(prompt, res, "", nil)); err != nil {
				return err
			}
			return errNoDone
		})
}

// maxPrompts bounds the prompts of one /completion request.
const maxPrompts = 64

// nativeIDs are the ids of the tokens (not the held-back text delivered
// at the end), or none unless asked for.
func (s *backend) nativeIDs(toks []engine.Token, want bool) []int32 {
	out := []int32{}
	if want {
		for _, t := range toks {
			if t.ID >= 0 {
				out = append(out, t.ID)
			}
		}
	}
	return out
}

// nativeProbs lists completion_probabilities for the tokens.
func (s *backend) nativeProbs(toks []engine.Token, want bool) []nativeProb {
	if !want {
		return nil
	}
	tok := s.e.Tokenizer()
	// entry is a token with its probability (prob) or log-probability.
	entry := func(id int32, v float32, prob bool) nativeProb {
		p := tok.Piece(id, true)
		e, x := nativeProb{ID: id, Token: validText(p), Bytes: byteList(p)}, float64(v)
		if prob {
			e.Prob = &x
		} else {
			e.Logprob = &x
		}
		return e
	}
	out := []nativeProb{}
	for _, t := range toks {
		if t.ID < 0 {
			continue
		}
		var e nativeProb
		if t.Probs != nil {
			e = entry(t.ID, t.Prob, true)
			e.TopProbs = []nativeProb{}
			for _, a := range t.Probs {
				e.TopProbs = append(e.TopProbs, entry(a.ID, a.Prob, true))
			}
		} else {
			e = entry(t.ID, t.Logprob, false)
			e.TopLogprobs = []nativeProb{}
			for _, a := range t.Top {
				e.TopLogprobs = append(e.TopLogprobs, entry(a.ID, a.Logprob, false))
			}
		}
		out = append(out, e)
	}
	return out
}

// fields keeps only the response_fields of a result (paths such as
// "generation_settings/n_predict" become keys of that name), or all of it.
func fields(res nativeResult, want []string) any {
	if len(want) == 0 {
		return res
	}
	raw, _ := json.Marshal(res)
	var all map[string]any
	json.Unmarshal(raw, &all)
	out := map[string]any{}
	for _, f := range want {
		var v any = all
		for _, part := range strings.Split(f, "/") {
			m, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = m[part]
		}
		if v != nil {
			out[f] = v
		}
	}
	return out
}

// nativePrompts reads /completion's prompt: a string, token ids, an array
// mixing strings and ids (the first string tokenized with the
// vocabulary's special tokens, the others without), {"prompt_string": …}
// (multimodal data is refused: no model here reads images), or an array
// of such prompts (each answered in turn, in a list).
func (s *backend) nativePrompts(ctx context.Context, raw json.RawMessage) ([][]int32, *apiError) {
	raw = bytes.TrimSpace(raw)
	var list []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil || isMixed(list) {
		p, e := s.nativePrompt(ctx, raw)
		if e != nil {
			return nil, e
		}
		return [][]int32{p}, nil
	}
	if len(list) == 0 {
		return nil, invalid("prompt", "'prompt' is empty")
	}
	out := make([][]int32, 0, len(list))
	for _, m := range list {
		p, e := s.nativePrompt(ctx, m)
		if e != nil {
			return nil, e
		}
		out = append(out, p)
	}
	return out, nil
}

// isMixed reports whether a prompt array is one prompt: only token ids,
// or token ids and strings.
func isMixed(list []json.RawMessage) bool {
	ids := 0
	for _, m := range list {
		var id int32
		var text string
		switch {
		case json.Unmarshal(m, &id) == nil:
			ids++
		case json.Unmarshal(m, &text) == nil:
		default:
			return false
		}
	}
	return ids > 0
}

// nativePrompt reads one prompt (see nativePrompts).
func (s *backend) nativePrompt(ctx context.Context, raw json.RawMessage) ([]int32, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var obj struct {
			PromptString   *string         `json:"prompt_string"`
			MultimodalData json.RawMessage `json:"multimodal_data"`
		}
		if json.Unmarshal(raw, &obj) != nil || obj.PromptString == nil {
			return nil, invalid("prompt", "a prompt object must hold \"prompt_string\"")
		}
		if len(obj.MultimodalData) > 0 && string(obj.MultimodalData) != "null" && string(obj.MultimodalData) != "[]" {
			return nil, invalid("prompt", "multimodal_data: image input is not supported by this model")
		}
		return s.encode(ctx, *obj.PromptString, "prompt")
	}
	var mixed []json.RawMessage
	if json.Unmarshal(raw, &mixed) != nil || !isMixed(mixed) {
		return s.completionPrompt(ctx, raw)
	}
	var out []int32
	for i, m := range mixed {
		var id int32
		var text string
		switch {
		case json.Unmarshal(m, &id) == nil:
			out = append(out, id)
		case json.Unmarshal(m, &text) == nil:
			if i == 0 {
				ids, e := s.encode(ctx, text, "prompt")
				if e != nil {
					return nil, e
				}
				out = append(out, ids...)
			} else {
				out = append(out, s.e.Tokenizer().Encode(text, false, true)...)
			}
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
	dryLastN := o.DRYPenaltyLastN
	if dryLastN <= 0 {
		dryLastN = s.e.Options().Context // -1 is the sequence's context, as llama-server reports it
	}
	breakers := o.DRYBreakers
	if breakers == nil {
		breakers = smp.DefaultDRYBreakers
	}
	bias := []map[string]any{}
	for _, lb := range s.e.EffectiveLogitBias(o) {
		var v any = lb.Bias // -Inf is null, as llama-server writes it
		if math.IsInf(float64(lb.Bias), -1) {
			v = nil
		}
		bias = append(bias, map[string]any{"token": lb.ID, "bias": v})
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
		"stop": stop, "max_tokens": np, "n_probs": max(o.TopLogprobs, o.PostSamplingProbs), "min_keep": p.MinKeep, "ignore_eos": o.IgnoreEOG, "stream": stream,
		"samplers": samplers, "lora": lora, "logit_bias": bias, "post_sampling_probs": o.PostSamplingProbs > 0,
		"dry_multiplier": p.DRYMultiplier, "dry_base": p.DRYBase, "dry_allowed_length": p.DRYAllowedLength,
		"dry_penalty_last_n": dryLastN, "dry_sequence_breakers": breakers}
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
		"build_info": fingerprint, "modalities": map[string]bool{"vision": false, "audio": false},
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
