package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/shimmer-llm/shimmer/engine"
)

// infillPrompt builds /infill's prompt as llama-server does (its
// repository-level FIM pattern): the extra files (each after the file
// separator and its name, or after a "--- snippet ---" line in a vocabulary
// without one, the project's name first when the vocabulary has a
// repository token), then the prefix, the request's prompt, the suffix
// and the middle token:
//
//	[REP]myproject\n [SEP]name\n text … [SEP]filename\n [BOS] [PRE]prefix prompt [SUF]suffix [MID]
//
// With SPMInfill the suffix goes before the prefix. The prefix keeps its
// last 3/4 of a batch of tokens, the suffix its first quarter less the
// prompt, and the extra files the end of what is left of the context.
func (s *backend) infillPrompt(ctx context.Context, req *nativeRequest) ([]int32, *apiError) {
	tok := s.e.Tokenizer()
	fim := tok.FIM()
	var missing []string
	for _, m := range []struct {
		id   int32
		name string
	}{{fim.Pre, "prefix"}, {fim.Suf, "suffix"}, {fim.Mid, "middle"}} {
		if m.id < 0 {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return nil, &apiError{status: http.StatusNotImplemented, Type: "not_supported_error",
			Message: "infill is not supported by this model: its vocabulary lacks the fill-in-the-middle tokens (" + strings.Join(missing, ", ") + ")"}
	}
	if len(req.InputPrefix) == 0 || len(req.InputSuffix) == 0 {
		return nil, invalid("input_prefix", "'input_prefix' and 'input_suffix' are required")
	}
	var prompt string
	if len(req.Prompt) > 0 && string(req.Prompt) != "null" {
		if json.Unmarshal(req.Prompt, &prompt) != nil {
			return nil, invalid("prompt", "'prompt' must be a string")
		}
	}
	for i, x := range req.InputExtra {
		if x.Text == nil {
			return nil, invalid("input_extra", "input_extra[%d] must hold a \"text\" string", i)
		}
	}
	// Every text is bounded by the body limit; the prompt built is cut to
	// the context below.
	release, e := s.tokenizeSlot(ctx)
	if e != nil {
		return nil, e
	}
	defer release()
	text := func(s string) []int32 { return tok.Encode(s, false, false) }
	mixed := func(raw json.RawMessage, param string) ([]int32, *apiError) {
		raw = bytes.TrimSpace(raw)
		var str string
		if json.Unmarshal(raw, &str) == nil {
			return text(str), nil
		}
		var parts []json.RawMessage
		if json.Unmarshal(raw, &parts) != nil {
			return nil, invalid(param, "'%s' must be a string, or strings and token ids", param)
		}
		var out []int32
		for _, p := range parts {
			var id int32
			switch {
			case json.Unmarshal(p, &id) == nil:
				out = append(out, id)
			case json.Unmarshal(p, &str) == nil:
				out = append(out, text(str)...)
			default:
				return nil, invalid(param, "'%s' must be a string, or strings and token ids", param)
			}
		}
		return out, s.validateIDs(out, param)
	}
	prefix, e := mixed(req.InputPrefix, "input_prefix")
	if e != nil {
		return nil, e
	}
	suffix, e := mixed(req.InputSuffix, "input_suffix")
	if e != nil {
		return nil, e
	}
	promptIDs := tok.Encode(prompt, false, true)

	var extra []int32
	if fim.Rep >= 0 {
		extra = append(append(extra, fim.Rep), text("myproject\n")...)
	}
	for _, x := range req.InputExtra {
		name := "tmp"
		if x.Filename != nil {
			name = *x.Filename
		}
		if fim.Sep >= 0 {
			extra = append(append(extra, fim.Sep), text(name+"\n")...)
		} else {
			extra = append(extra, text("\n\n--- snippet ---\n\n")...)
		}
		extra = append(extra, text(*x.Text)...)
	}
	if fim.Sep >= 0 {
		extra = append(append(extra, fim.Sep), text("filename\n")...)
	}

	o := s.e.Options()
	nBatch, nCtx := o.BatchSize, o.Context
	nPredict := -1
	if s.opts.DefaultMaxTokens > 0 {
		nPredict = s.opts.DefaultMaxTokens
	}
	takePrefix := min(len(prefix), 3*(nBatch/4))
	takeSuffix := min(len(suffix), max(0, nBatch/4-(2+len(promptIDs))))
	takeExtra := min(max(0, nCtx-nBatch-2*nPredict), len(extra))

	pre := append([]int32{fim.Pre}, prefix[len(prefix)-takePrefix:]...)
	pre = append(pre, promptIDs...)
	suf := append([]int32{fim.Suf}, suffix[:takeSuffix]...)
	first, last := pre, suf
	if s.opts.SPMInfill {
		first, last = suf, pre
	}
	out := make([]int32, 0, takeExtra+1+len(first)+len(last)+1)
	out = append(out, extra[len(extra)-takeExtra:]...)
	if tok.AddBOS() && tok.BOS() >= 0 {
		out = append(out, tok.BOS())
	}
	out = append(append(append(out, first...), last...), fim.Mid)
	if len(out) > nCtx {
		return nil, s.tooLong("input_prefix", &engine.ContextError{Tokens: len(out), Context: nCtx})
	}
	return out, nil
}
