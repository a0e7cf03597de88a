package server

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// The OpenAI Responses API (POST /v1/responses), text in and out, as a
// translation onto the chat path: input (a string or a list of messages
// with text content) and instructions become chat messages; the reply is
// a response object with one output message, or its event stream.

type responsesRequest struct {
	Model           string          `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
	Temperature     *float64        `json:"temperature"`
	TopP            *float64        `json:"top_p"`
	Stream          bool            `json:"stream"`
	Tools           json.RawMessage `json:"tools"`
}

// responsesMessages reads input and instructions.
func responsesMessages(req *responsesRequest) ([]chat.Message, *apiError) {
	var msgs []chat.Message
	if req.Instructions != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: req.Instructions})
	}
	var text string
	if json.Unmarshal(req.Input, &text) == nil {
		if text == "" {
			return nil, invalid("input", "'input' is empty")
		}
		return append(msgs, chat.Message{Role: "user", Content: text}), nil
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(req.Input, &items) != nil || len(items) == 0 {
		return nil, invalid("input", "'input' must be a string or a non-empty list of messages")
	}
	for i, it := range items {
		if it.Type != "" && it.Type != "message" {
			return nil, invalid("input", "input[%d]: items of type '%s' are not supported (only messages)", i, it.Type)
		}
		var s string
		if json.Unmarshal(it.Content, &s) != nil {
			var parts []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if json.Unmarshal(it.Content, &parts) != nil {
				return nil, invalid("input", "input[%d]: 'content' must be a string or a list of text parts", i)
			}
			for _, p := range parts {
				if p.Type != "input_text" && p.Type != "output_text" && p.Type != "text" {
					return nil, invalid("input", "input[%d]: content parts of type '%s' are not supported (only text)", i, p.Type)
				}
				s += p.Text
			}
		}
		role := it.Role
		if role == "developer" {
			role = "system"
		}
		msgs = append(msgs, chat.Message{Role: role, Content: s})
	}
	return msgs, nil
}

// handleResponses serves POST /v1/responses.
func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	var req responsesRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" && string(req.Tools) != "[]" {
		writeError(w, invalid("tools", "'tools' is not supported on /v1/responses (use /v1/chat/completions)"))
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	p := sampling{Model: req.Model, MaxTokens: req.MaxOutputTokens, Temperature: req.Temperature, TopP: req.TopP}
	opts, e := b.generateOptions(&p)
	if e != nil {
		if e.Param != nil && *e.Param == "max_tokens" {
			e = invalid("max_output_tokens", "'max_output_tokens' must be at least 1")
		}
		writeError(w, e)
		return
	}
	msgs, e := responsesMessages(&req)
	if e != nil {
		writeError(w, e)
		return
	}
	prompt, e := b.chatPrompt(r.Context(), msgs, nil)
	if e != nil {
		writeError(w, e)
		return
	}
	id, msgID, created := newID("resp_"), newID("msg_"), time.Now().Unix()
	object := func(status, text string, res *engine.Result) map[string]any {
		content := []map[string]any{}
		output := []map[string]any{}
		if status != "in_progress" {
			content = append(content, map[string]any{"type": "output_text", "text": text, "annotations": []any{}})
			output = append(output, map[string]any{"type": "message", "id": msgID, "status": "completed", "role": "assistant", "content": content})
		}
		o := map[string]any{"id": id, "object": "response", "created_at": created, "status": status, "model": b.name,
			"output": output, "incomplete_details": nil, "error": nil}
		if res != nil {
			o["usage"] = map[string]int{"input_tokens": res.PromptTokens, "output_tokens": res.Tokens, "total_tokens": res.PromptTokens + res.Tokens}
			if res.StopReason == engine.StopLength || res.StopReason == engine.StopContext {
				o["status"], o["incomplete_details"] = "incomplete", map[string]string{"reason": "max_output_tokens"}
			}
		}
		return o
	}
	if !req.Stream {
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "input")
			return
		}
		b.writeJSON(w, object("completed", joinText(toks), &res))
		return
	}
	seq := 0
	ev := func(out *sse, typ string, fields map[string]any) error {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		return out.event(typ, fields)
	}
	var text string
	b.runStream(w, r, prompt, opts, "input",
		func(out *sse) error {
			if err := ev(out, "response.created", map[string]any{"response": object("in_progress", "", nil)}); err != nil {
				return err
			}
			if err := ev(out, "response.in_progress", map[string]any{"response": object("in_progress", "", nil)}); err != nil {
				return err
			}
			if err := ev(out, "response.output_item.added", map[string]any{"output_index": 0,
				"item": map[string]any{"type": "message", "id": msgID, "status": "in_progress", "role": "assistant", "content": []any{}}}); err != nil {
				return err
			}
			return ev(out, "response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0,
				"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
		},
		func(out *sse, toks []engine.Token) error {
			d := joinText(toks)
			if d == "" {
				return nil
			}
			text += d
			return ev(out, "response.output_text.delta", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "delta": d})
		},
		func(out *sse, res engine.Result) error {
			part := map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
			for _, step := range []struct {
				typ    string
				fields map[string]any
			}{
				{"response.output_text.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "text": text}},
				{"response.content_part.done", map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0, "part": part}},
				{"response.output_item.done", map[string]any{"output_index": 0, "item": map[string]any{"type": "message", "id": msgID,
					"status": "completed", "role": "assistant", "content": []any{part}}}},
			} {
				if err := ev(out, step.typ, step.fields); err != nil {
					return err
				}
			}
			final := object("completed", text, &res)
			typ := "response.completed"
			if final["status"] == "incomplete" {
				typ = "response.incomplete"
			}
			if err := ev(out, typ, map[string]any{"response": final}); err != nil {
				return err
			}
			return errNoDone
		})
}
