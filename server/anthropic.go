package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// Anthropic's Messages API (POST /v1/messages, /v1/messages/count_tokens)
// as a translation onto the chat path: the request becomes chat messages
// and sampling options, the reply Anthropic's message or its event
// stream. Text content only: tool use and images are refused by name.

type anthropicRequest struct {
	Model         string             `json:"model"`
	MaxTokens     *int               `json:"max_tokens"`
	System        json.RawMessage    `json:"system"`
	Messages      []anthropicMessage `json:"messages"`
	StopSequences []string           `json:"stop_sequences"`
	Temperature   *float64           `json:"temperature"`
	TopP          *float64           `json:"top_p"`
	TopK          *int               `json:"top_k"`
	Stream        bool               `json:"stream"`
	Tools         json.RawMessage    `json:"tools"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicText reads content that is a string or a list of text blocks.
func anthropicText(raw json.RawMessage, param string) (string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return "", invalid(param, "'%s' must be a string or a list of content blocks", param)
	}
	var b strings.Builder
	for _, bl := range blocks {
		if bl.Type != "text" {
			return "", invalid(param, "content blocks of type '%s' are not supported (only text)", bl.Type)
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

// anthropicPrompt turns a request into chat messages.
func anthropicMessages(req *anthropicRequest) ([]chat.Message, *apiError) {
	var msgs []chat.Message
	sys, e := anthropicText(req.System, "system")
	if e != nil {
		return nil, e
	}
	if sys != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: sys})
	}
	if len(req.Messages) == 0 {
		return nil, invalid("messages", "'messages' is missing or empty")
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, invalid("messages", "messages[%d]: role '%s' (user or assistant)", i, m.Role)
		}
		text, e := anthropicText(m.Content, "messages")
		if e != nil {
			return nil, e
		}
		msgs = append(msgs, chat.Message{Role: m.Role, Content: text})
	}
	return msgs, nil
}

// writeAnthropicError writes e in Anthropic's error shape.
func writeAnthropicError(w http.ResponseWriter, e *apiError) {
	typ := e.Type
	switch e.status {
	case http.StatusNotFound:
		typ = "not_found_error"
	case http.StatusUnauthorized:
		typ = "authentication_error"
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		typ = "overloaded_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": e.Message}})
}

func anthropicStop(r engine.StopReason) string {
	switch r {
	case engine.StopString:
		return "stop_sequence"
	case engine.StopLength, engine.StopContext:
		return "max_tokens"
	}
	return "end_turn"
}

// anthropicSetup reads the request's model, messages and options.
func (s *Server) anthropicSetup(w http.ResponseWriter, r *http.Request, count bool) (*backend, func(), []int32, engine.GenerateOptions, *anthropicRequest, bool) {
	var req anthropicRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeAnthropicError(w, e)
		return nil, nil, nil, engine.GenerateOptions{}, nil, false
	}
	fail := func(e *apiError) (*backend, func(), []int32, engine.GenerateOptions, *anthropicRequest, bool) {
		writeAnthropicError(w, e)
		return nil, nil, nil, engine.GenerateOptions{}, nil, false
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]" {
		return fail(invalid("tools", "'tools' is not supported on /v1/messages (use /v1/chat/completions)"))
	}
	if !count && (req.MaxTokens == nil || *req.MaxTokens < 1) {
		return fail(invalid("max_tokens", "'max_tokens' is required and must be at least 1"))
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		return fail(e)
	}
	p := sampling{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, Stop: req.StopSequences}
	opts, e := b.generateOptions(&p)
	if e != nil {
		release()
		return fail(e)
	}
	msgs, e := anthropicMessages(&req)
	if e != nil {
		release()
		return fail(e)
	}
	prompt, e := b.chatPrompt(r.Context(), msgs, nil)
	if e != nil {
		release()
		return fail(e)
	}
	return b, release, prompt, opts, &req, true
}

// handleAnthropicCount serves POST /v1/messages/count_tokens.
func (s *Server) handleAnthropicCount(w http.ResponseWriter, r *http.Request) {
	_, release, prompt, _, _, ok := s.anthropicSetup(w, r, true)
	if !ok {
		return
	}
	defer release()
	s.writeJSON(w, map[string]int{"input_tokens": len(prompt)})
}

// handleAnthropic serves POST /v1/messages.
func (s *Server) handleAnthropic(w http.ResponseWriter, r *http.Request) {
	b, release, prompt, opts, req, ok := s.anthropicSetup(w, r, false)
	if !ok {
		return
	}
	defer release()
	id := newID("msg_")
	if !req.Stream {
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "messages")
			return
		}
		b.writeJSON(w, map[string]any{"id": id, "type": "message", "role": "assistant", "model": b.name,
			"content":     []map[string]string{{"type": "text", "text": joinText(toks)}},
			"stop_reason": anthropicStop(res.StopReason), "stop_sequence": nil,
			"usage": map[string]int{"input_tokens": res.PromptTokens, "output_tokens": res.Tokens}})
		return
	}
	b.runStream(w, r, prompt, opts, "messages",
		func(out *sse) error {
			if err := out.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
				"id": id, "type": "message", "role": "assistant", "model": b.name, "content": []any{},
				"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": len(prompt), "output_tokens": 0}}}); err != nil {
				return err
			}
			return out.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
				"content_block": map[string]string{"type": "text", "text": ""}})
		},
		func(out *sse, toks []engine.Token) error {
			text := joinText(toks)
			if text == "" {
				return nil
			}
			return out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
				"delta": map[string]string{"type": "text_delta", "text": text}})
		},
		func(out *sse, res engine.Result) error {
			if err := out.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}); err != nil {
				return err
			}
			if err := out.event("message_delta", map[string]any{"type": "message_delta",
				"delta": map[string]any{"stop_reason": anthropicStop(res.StopReason), "stop_sequence": nil},
				"usage": map[string]int{"output_tokens": res.Tokens}}); err != nil {
				return err
			}
			if err := out.event("message_stop", map[string]string{"type": "message_stop"}); err != nil {
				return err
			}
			return errNoDone
		})
}

// event sends a server-sent event with a name.
func (e *sse) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	if _, err := e.w.Write([]byte("event: " + name + "\ndata: " + string(b) + "\n\n")); err != nil {
		return err
	}
	return e.rc.Flush()
}
