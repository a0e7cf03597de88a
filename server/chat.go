package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// handleChat serves POST /v1/chat/completions.
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	opts, e := s.chatOptions(&req)
	if e != nil {
		writeError(w, e)
		return
	}
	msgs, e := chatMessages(req.Messages)
	if e != nil {
		writeError(w, e)
		return
	}
	prompt, e := s.chatPrompt(r.Context(), msgs, req.ChatTemplateKwargs)
	if e != nil {
		writeError(w, e)
		return
	}
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if !req.Stream {
		toks, res, err := s.collect(r.Context(), prompt, opts)
		if err != nil {
			s.failGeneration(w, r.Context(), err, "messages")
			return
		}
		text := joinText(toks)
		resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: s.opts.ModelName, SystemFingerprint: fingerprint,
			Choices: []chatChoice{{Message: &chatOut{Role: "assistant", Content: &text}, FinishReason: finishReason(res.StopReason)}},
			Usage:   makeUsage(res)}
		if opts.Logprobs {
			resp.Choices[0].Logprobs = s.chatLogprobs(toks)
		}
		s.writeJSON(w, resp)
		return
	}
	chunk := func(delta *chatOut, lp *chatLogprobs, finish *string) chatResponse {
		return chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: s.opts.ModelName, SystemFingerprint: fingerprint,
			Choices: []chatChoice{{Delta: delta, Logprobs: lp, FinishReason: finish}}}
	}
	s.runStream(w, r, prompt, opts, "messages",
		func(out *sse) error {
			empty := ""
			return out.send(chunk(&chatOut{Role: "assistant", Content: &empty}, nil, nil))
		},
		func(out *sse, toks []engine.Token) error {
			text := joinText(toks)
			var lp *chatLogprobs
			if opts.Logprobs {
				lp = s.chatLogprobs(toks)
				if len(lp.Content) == 0 {
					lp = nil
				}
			}
			if text == "" && lp == nil {
				return nil
			}
			return out.send(chunk(&chatOut{Content: &text}, lp, nil))
		},
		func(out *sse, res engine.Result) error {
			if err := out.send(chunk(&chatOut{}, nil, finishReason(res.StopReason))); err != nil {
				return err
			}
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				u := chunk(nil, nil, nil)
				u.Choices = []chatChoice{}
				u.Usage = makeUsage(res)
				return out.send(u)
			}
			return nil
		})
}

// fingerprint is the system_fingerprint of every response.
const fingerprint = "shimmer"

// chatOptions validates a chat request's generation options.
func (s *Server) chatOptions(req *chatRequest) (engine.GenerateOptions, *apiError) {
	opts, e := s.generateOptions(&req.sampling)
	if e != nil {
		return opts, e
	}
	if req.MaxCompletionTokens != nil {
		if *req.MaxCompletionTokens < 1 {
			return opts, invalid("max_completion_tokens", "'max_completion_tokens' must be at least 1")
		}
		opts.MaxTokens = *req.MaxCompletionTokens
	}
	if req.TopLogprobs != nil {
		if !req.Logprobs {
			return opts, invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true")
		}
		if *req.TopLogprobs < 0 || *req.TopLogprobs > maxTopLogprobs {
			return opts, invalid("top_logprobs", "'top_logprobs' must be between 0 and %d", maxTopLogprobs)
		}
		opts.TopLogprobs = *req.TopLogprobs
	}
	opts.Logprobs = req.Logprobs

	if t := bytes.TrimSpace(req.Tools); len(t) > 0 && !bytes.Equal(t, []byte("null")) && !bytes.Equal(t, []byte("[]")) {
		return opts, invalid("tools", "tools are not supported")
	}
	if t := bytes.TrimSpace(req.ToolChoice); len(t) > 0 && !bytes.Equal(t, []byte("null")) && !bytes.Equal(t, []byte(`"none"`)) {
		return opts, invalid("tool_choice", "tool_choice is not supported")
	}
	return opts, nil
}

// chatMessages checks the messages of a request and converts them.
func chatMessages(in []chatMessage) ([]chat.Message, *apiError) {
	if len(in) == 0 {
		return nil, invalid("messages", "'messages' must hold at least one message")
	}
	out := make([]chat.Message, len(in))
	for i, m := range in {
		param := fmt.Sprintf("messages[%d]", i)
		switch m.Role {
		case "system", "user", "assistant", "tool":
		case "developer":
			m.Role = "system"
		case "":
			return nil, invalid(param+".role", "%s.role is missing", param)
		default:
			return nil, invalid(param+".role", "%s.role %q is not one of system, developer, user, assistant, tool", param, m.Role)
		}
		content, e := messageContent(m.Content, param+".content")
		if e != nil {
			return nil, e
		}
		out[i] = chat.Message{Role: m.Role, Content: content}
	}
	return out, nil
}

// messageContent reads a content: a string, null, or an array of text
// parts (joined by newlines).
func messageContent(raw json.RawMessage, param string) (string, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(param, "%s is not a valid string", param)
		}
		return s, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(param, "%s must be a string or an array of content parts", param)
	}
	texts := make([]string, 0, len(parts))
	for j, p := range parts {
		if p.Type != "text" {
			return "", invalid(fmt.Sprintf("%s[%d].type", param, j), "content parts of type %q are not supported (only \"text\")", p.Type)
		}
		texts = append(texts, p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

func joinText(toks []engine.Token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.Text)
	}
	return b.String()
}

// chatLogprobs lists the log-probabilities of the tokens (those with an
// id: not the held-back text delivered at the end).
func (s *Server) chatLogprobs(toks []engine.Token) *chatLogprobs {
	tok := s.e.Tokenizer()
	lp := &chatLogprobs{Content: []tokenLogprob{}}
	for _, t := range toks {
		if t.ID < 0 {
			continue
		}
		piece := tok.Piece(t.ID, true)
		e := tokenLogprob{Token: piece, Logprob: float64(t.Logprob), Bytes: byteList(piece), TopLogprobs: []altLogprob{}}
		for _, a := range t.Top {
			p := tok.Piece(a.ID, true)
			e.TopLogprobs = append(e.TopLogprobs, altLogprob{Token: p, Logprob: float64(a.Logprob), Bytes: byteList(p)})
		}
		lp.Content = append(lp.Content, e)
	}
	return lp
}

func byteList(s string) []int {
	b := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		b[i] = int(s[i])
	}
	return b
}
