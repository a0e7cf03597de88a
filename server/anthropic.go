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

// Anthropic's Messages API (POST /v1/messages, /v1/messages/count_tokens)
// as a translation onto the chat path: the request becomes chat messages,
// tools and sampling options (tool_use blocks become an assistant turn's
// calls, tool_result blocks tool turns, thinking blocks its reasoning),
// the reply Anthropic's message or its event stream. Images and documents
// are refused by name.

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
	Tools         []anthropicTool    `json:"tools"`
	ToolChoice    *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
	} `json:"tool_choice"`
}

type anthropicTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicBlock is one content block of a message (the fields of every
// type the translation reads).
type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// anthropicBlocks reads content that is a string or a list of blocks.
func anthropicBlocks(raw json.RawMessage, param string) ([]anthropicBlock, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	if json.Unmarshal(raw, &blocks) != nil {
		return nil, invalid(param, "'%s' must be a string or a list of content blocks", param)
	}
	for i, bl := range blocks {
		switch bl.Type {
		case "text", "thinking", "redacted_thinking", "tool_use", "tool_result":
		case "image", "document":
			return nil, invalid(param, "%s[%d]: %s input is not supported by this model", param, i, bl.Type)
		default:
			return nil, invalid(param, "%s[%d]: content blocks of type '%s' are not supported", param, i, bl.Type)
		}
	}
	return blocks, nil
}

// anthropicText joins the text blocks of content (a system prompt, a
// tool result).
func anthropicText(raw json.RawMessage, param string) (string, *apiError) {
	blocks, e := anthropicBlocks(raw, param)
	if e != nil {
		return "", e
	}
	var b strings.Builder
	for i, bl := range blocks {
		if bl.Type != "text" {
			return "", invalid(param, "%s[%d]: only text blocks may appear here, not '%s'", param, i, bl.Type)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(bl.Text)
	}
	return b.String(), nil
}

// anthropicMessages turns a request into chat messages: a user turn's
// tool_result blocks become tool turns (before its text), an assistant
// turn's tool_use blocks its calls and its thinking blocks its reasoning.
func anthropicMessages(req *anthropicRequest) ([]chat.Message, *apiError) {
	var msgs []chat.Message
	sys, e := anthropicText(req.System, "system")
	if e != nil {
		return nil, e
	}
	if sys != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: sys})
	}
	if req.Messages == nil {
		return nil, invalid("messages", "'messages' is missing")
	}
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d].content", i)
		if m.Role != "user" && m.Role != "assistant" {
			return nil, invalid("messages", "messages[%d]: role '%s' (user or assistant)", i, m.Role)
		}
		blocks, e := anthropicBlocks(m.Content, param)
		if e != nil {
			return nil, e
		}
		msg := chat.Message{Role: m.Role}
		var text, reasoning []string
		for j, bl := range blocks {
			switch bl.Type {
			case "text":
				text = append(text, bl.Text)
			case "thinking":
				if m.Role != "assistant" {
					return nil, invalid(param, "%s[%d]: thinking blocks belong to assistant turns", param, j)
				}
				reasoning = append(reasoning, bl.Thinking)
			case "tool_use":
				if m.Role != "assistant" {
					return nil, invalid(param, "%s[%d]: tool_use blocks belong to assistant turns", param, j)
				}
				args := bytes.TrimSpace(bl.Input)
				if len(args) == 0 || string(args) == "null" {
					args = []byte("{}")
				}
				msg.ToolCalls = append(msg.ToolCalls, chat.ToolCall{ID: bl.ID, Name: bl.Name, Arguments: string(args)})
			case "tool_result":
				if m.Role != "user" {
					return nil, invalid(param, "%s[%d]: tool_result blocks belong to user turns", param, j)
				}
				out, e := anthropicText(bl.Content, fmt.Sprintf("%s[%d].content", param, j))
				if e != nil {
					return nil, e
				}
				if bl.IsError {
					out = "Error: " + out
				}
				msgs = append(msgs, chat.Message{Role: "tool", ToolCallID: bl.ToolUseID, Content: out})
			}
		}
		msg.Content, msg.Reasoning = strings.Join(text, "\n"), strings.Join(reasoning, "\n")
		if msg.Content != "" || len(msg.ToolCalls) > 0 || msg.Reasoning != "" || len(blocks) == 0 {
			msgs = append(msgs, msg)
		}
	}
	return msgs, nil
}

// anthropicTools puts the request's tools and tool_choice in the chat
// request's form, for toolSetup.
func anthropicTools(req *anthropicRequest) (*chatRequest, *apiError) {
	cr := &chatRequest{}
	if len(req.Tools) == 0 {
		return cr, nil
	}
	type fn struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	}
	defs := make([]map[string]any, len(req.Tools))
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "custom" {
			return nil, invalid("tools", "tools[%d]: server tools of type '%s' are not supported (only client tools with an input_schema)", i, t.Type)
		}
		defs[i] = map[string]any{"type": "function", "function": fn{t.Name, t.Description, t.InputSchema}}
	}
	cr.Tools, _ = json.Marshal(defs)
	if c := req.ToolChoice; c != nil {
		switch c.Type {
		case "auto", "":
			cr.ToolChoice = json.RawMessage(`"auto"`)
		case "any":
			cr.ToolChoice = json.RawMessage(`"required"`)
		case "none":
			cr.ToolChoice = json.RawMessage(`"none"`)
		case "tool":
			cr.ToolChoice, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": c.Name}})
		default:
			return nil, invalid("tool_choice", "tool_choice.type '%s' is not one of auto, any, tool, none", c.Type)
		}
		if c.DisableParallelToolUse {
			no := false
			cr.ParallelToolCalls = &no
		}
	}
	return cr, nil
}

// writeAnthropicError writes e in Anthropic's error shape.
func writeAnthropicError(w http.ResponseWriter, e *apiError) {
	typ := e.Type
	if typ == "exceed_context_size_error" {
		typ = "invalid_request_error"
	}
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

// anthropicCall is what a request's setup gives its handler.
type anthropicCall struct {
	b       *backend
	release func()
	prompt  []int32
	opts    engine.GenerateOptions
	req     *anthropicRequest
	tools   []chat.Tool
}

// anthropicSetup reads the request's model, messages, tools and options.
func (s *Server) anthropicSetup(w http.ResponseWriter, r *http.Request, count bool) (*anthropicCall, bool) {
	var req anthropicRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeAnthropicError(w, e)
		return nil, false
	}
	if !count && (req.MaxTokens == nil || *req.MaxTokens < 1) {
		writeAnthropicError(w, invalid("max_tokens", "'max_tokens' is required and must be at least 1"))
		return nil, false
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeAnthropicError(w, e)
		return nil, false
	}
	c := &anthropicCall{b: b, release: release, req: &req}
	if e := c.setup(r); e != nil {
		release()
		writeAnthropicError(w, e)
		return nil, false
	}
	return c, true
}

func (c *anthropicCall) setup(r *http.Request) *apiError {
	req, b := c.req, c.b
	p := sampling{Model: req.Model, MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, Stop: req.StopSequences}
	opts, e := b.generateOptions(&p)
	if e != nil {
		return e
	}
	msgs, e := anthropicMessages(req)
	if e != nil {
		return e
	}
	cr, e := anthropicTools(req)
	if e != nil {
		return e
	}
	tools, e := b.toolSetup(cr, &opts)
	if e != nil {
		return e
	}
	var vars map[string]any
	if tools != nil {
		vars, msgs = b.withTools(tools, vars, msgs)
	}
	prompt, e := b.chatPrompt(r.Context(), msgs, vars)
	if e != nil {
		return e
	}
	c.prompt, c.opts, c.tools = prompt, opts, tools
	return nil
}

// handleAnthropicCount serves POST /v1/messages/count_tokens.
func (s *Server) handleAnthropicCount(w http.ResponseWriter, r *http.Request) {
	c, ok := s.anthropicSetup(w, r, true)
	if !ok {
		return
	}
	defer c.release()
	s.writeJSON(w, map[string]int{"input_tokens": len(c.prompt)})
}

// anthropicUsage counts as Anthropic does: input_tokens are those read
// anew, cache_read_input_tokens those reused from the cache.
func anthropicUsage(res engine.Result) map[string]int {
	return map[string]int{"input_tokens": res.PromptTokens - res.CachedTokens, "cache_read_input_tokens": res.CachedTokens,
		"cache_creation_input_tokens": 0, "output_tokens": res.Tokens}
}

// toolUse is a call as an Anthropic tool_use block.
func toolUse(c chat.ToolCall) map[string]any {
	input := json.RawMessage(c.Arguments)
	if !json.Valid(input) {
		input = json.RawMessage("{}")
	}
	return map[string]any{"type": "tool_use", "id": newID("toolu_"), "name": c.Name, "input": input}
}

// handleAnthropic serves POST /v1/messages.
func (s *Server) handleAnthropic(w http.ResponseWriter, r *http.Request) {
	c, ok := s.anthropicSetup(w, r, false)
	if !ok {
		return
	}
	defer c.release()
	b := c.b
	id := newID("msg_")
	if !c.req.Stream {
		toks, res, err := b.collect(r.Context(), c.prompt, c.opts)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "messages")
			return
		}
		reasoning, text, calls := b.splitReply(joinText(toks), c.tools)
		content := []any{}
		if reasoning != "" {
			content = append(content, map[string]string{"type": "thinking", "thinking": reasoning, "signature": ""})
		}
		if text != "" || len(calls) == 0 {
			content = append(content, map[string]string{"type": "text", "text": text})
		}
		stop := anthropicStop(res.StopReason)
		for _, call := range calls {
			content = append(content, toolUse(call))
			stop = "tool_use"
		}
		b.writeJSON(w, map[string]any{"id": id, "type": "message", "role": "assistant", "model": b.name,
			"content": content, "stop_reason": stop, "stop_sequence": nil, "usage": anthropicUsage(res)})
		return
	}
	// Blocks are opened as their content comes: thinking (a harmony
	// template's analysis channel), then text, then each tool call.
	split := b.replyStream(c.tools)
	index, open := -1, ""
	block := func(out *sse, typ string, start map[string]any) error {
		if open != "" {
			if err := out.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": index}); err != nil {
				return err
			}
		}
		index, open = index+1, typ
		if typ == "" {
			return nil
		}
		return out.event("content_block_start", map[string]any{"type": "content_block_start", "index": index, "content_block": start})
	}
	send := func(out *sse, reasoning, text string) error {
		if reasoning != "" {
			if open != "thinking" {
				if err := block(out, "thinking", map[string]any{"type": "thinking", "thinking": ""}); err != nil {
					return err
				}
			}
			if err := out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]string{"type": "thinking_delta", "thinking": reasoning}}); err != nil {
				return err
			}
		}
		if text != "" {
			if open != "text" {
				if err := block(out, "text", map[string]any{"type": "text", "text": ""}); err != nil {
					return err
				}
			}
			return out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]string{"type": "text_delta", "text": text}})
		}
		return nil
	}
	b.runStream(w, r, c.prompt, c.opts, "messages",
		func(out *sse) error {
			return out.event("message_start", map[string]any{"type": "message_start", "message": map[string]any{
				"id": id, "type": "message", "role": "assistant", "model": b.name, "content": []any{},
				"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": len(c.prompt), "output_tokens": 0}}})
		},
		func(out *sse, toks []engine.Token) error {
			reasoning, text := split.Push(joinText(toks))
			return send(out, reasoning, text)
		},
		func(out *sse, res engine.Result) error {
			reasoning, text, calls := split.Finish()
			if err := send(out, reasoning, text); err != nil {
				return err
			}
			if index < 0 && len(calls) == 0 {
				if err := block(out, "text", map[string]any{"type": "text", "text": ""}); err != nil {
					return err
				}
			}
			stop := anthropicStop(res.StopReason)
			for _, call := range calls {
				tu := toolUse(call)
				input := tu["input"].(json.RawMessage)
				tu["input"] = map[string]any{}
				if err := block(out, "tool_use", tu); err != nil {
					return err
				}
				if err := out.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
					"delta": map[string]string{"type": "input_json_delta", "partial_json": string(input)}}); err != nil {
					return err
				}
				stop = "tool_use"
			}
			if err := block(out, "", nil); err != nil {
				return err
			}
			u := anthropicUsage(res)
			if err := out.event("message_delta", map[string]any{"type": "message_delta",
				"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
				"usage": u}); err != nil {
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
