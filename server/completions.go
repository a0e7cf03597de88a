package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/shimmer-llm/shimmer/engine"
)

// handleCompletions serves POST /v1/completions.
func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
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
	opts, e := b.generateOptions(&req.sampling)
	if e != nil {
		writeError(w, e)
		return
	}
	switch {
	case req.Echo:
		writeError(w, invalid("echo", "'echo' is not supported"))
		return
	case req.Suffix != nil && *req.Suffix != "":
		writeError(w, invalid("suffix", "'suffix' is not supported"))
		return
	case req.BestOf != nil && *req.BestOf != 1:
		writeError(w, invalid("best_of", "'best_of' must be 1"))
		return
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > maxTopLogprobs {
			writeError(w, invalid("logprobs", "'logprobs' must be between 0 and %d", maxTopLogprobs))
			return
		}
		opts.Logprobs, opts.TopLogprobs = true, *req.Logprobs
	}
	prompt, e := b.completionPrompt(r.Context(), req.Prompt)
	if e != nil {
		writeError(w, e)
		return
	}
	id, created := newID("cmpl-"), time.Now().Unix()
	if !req.Stream {
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "prompt")
			return
		}
		choice := completionChoice{Text: joinText(toks), FinishReason: finishReason(res.StopReason)}
		if opts.Logprobs {
			choice.Logprobs = b.completionLogprobs(toks, 0)
		}
		b.writeJSON(w, completionResponse{ID: id, Object: "text_completion", Created: created, Model: b.name,
			SystemFingerprint: fingerprint, Choices: []completionChoice{choice}, Usage: makeUsage(res)})
		return
	}
	chunk := func(c completionChoice) completionResponse {
		return completionResponse{ID: id, Object: "text_completion", Created: created, Model: b.name,
			SystemFingerprint: fingerprint, Choices: []completionChoice{c}}
	}
	offset := 0
	b.runStream(w, r, prompt, opts, "prompt",
		func(*sse) error { return nil },
		func(out *sse, toks []engine.Token) error {
			c := completionChoice{Text: joinText(toks)}
			if opts.Logprobs {
				c.Logprobs = b.completionLogprobs(toks, offset)
				if len(c.Logprobs.Tokens) == 0 {
					c.Logprobs = nil
				}
			}
			offset += len(c.Text)
			if c.Text == "" && c.Logprobs == nil {
				return nil
			}
			return out.send(chunk(c))
		},
		func(out *sse, res engine.Result) error {
			if err := out.send(chunk(completionChoice{FinishReason: finishReason(res.StopReason)})); err != nil {
				return err
			}
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				u := chunk(completionChoice{})
				u.Choices = []completionChoice{}
				u.Usage = makeUsage(res)
				return out.send(u)
			}
			return nil
		})
}

// completionPrompt reads a prompt: a string, an array of token ids, or an
// array holding one of those. Text is tokenized as `shimmer run` does (BOS
// as the vocabulary asks, special tokens parsed).
func (s *backend) completionPrompt(ctx context.Context, raw json.RawMessage) ([]int32, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, invalid("prompt", "'prompt' is missing")
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return s.encode(ctx, text, "prompt")
	}
	var ids []int32
	if json.Unmarshal(raw, &ids) == nil {
		if len(ids) == 0 {
			return nil, invalid("prompt", "'prompt' is empty")
		}
		return ids, s.validateIDs(ids, "prompt")
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return nil, invalid("prompt", "'prompt' must hold one prompt: this server returns one choice per request")
		}
		return s.encode(ctx, texts[0], "prompt")
	}
	var lists [][]int32
	if json.Unmarshal(raw, &lists) == nil {
		if len(lists) != 1 || len(lists[0]) == 0 {
			return nil, invalid("prompt", "'prompt' must hold one non-empty prompt: this server returns one choice per request")
		}
		return lists[0], s.validateIDs(lists[0], "prompt")
	}
	return nil, invalid("prompt", "'prompt' must be a string, an array of token ids, or an array holding one of those")
}

// completionLogprobs lists the tokens' log-probabilities in the legacy
// completions format; offset is where the text of toks begins.
func (s *backend) completionLogprobs(toks []engine.Token, offset int) *completionLogprobs {
	tok := s.e.Tokenizer()
	lp := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range toks {
		if t.ID >= 0 {
			lp.Tokens = append(lp.Tokens, validText(tok.Piece(t.ID, true)))
			lp.TokenLogprobs = append(lp.TokenLogprobs, float64(t.Logprob))
			top := map[string]float64{}
			for _, a := range t.Top {
				p := validText(tok.Piece(a.ID, true))
				if _, dup := top[p]; !dup {
					top[p] = float64(a.Logprob)
				}
			}
			lp.TopLogprobs = append(lp.TopLogprobs, top)
			lp.TextOffset = append(lp.TextOffset, offset)
		}
		offset += len(t.Text)
	}
	return lp
}

func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
}
