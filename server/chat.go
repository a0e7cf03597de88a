package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/grammar"
)

// maxChoices bounds a chat request's n.
const maxChoices = 8

// chatCall is a chat request read and rendered: its backend, options,
// tools and prompt.
type chatCall struct {
	req    chatRequest
	b      *backend
	opts   engine.GenerateOptions
	tools  []chat.Tool
	prompt []int32
	n      int
}

// chatSetup reads a chat request and renders its prompt (writing the
// error itself when it fails); release frees the backend.
func (s *Server) chatSetup(w http.ResponseWriter, r *http.Request) (c *chatCall, release func(), ok bool) {
	c = &chatCall{n: 1}
	if e := s.readJSON(w, r, &c.req); e != nil {
		writeError(w, e)
		return nil, nil, false
	}
	req := &c.req
	if req.N != nil {
		c.n, req.N = *req.N, nil
		if c.n < 1 || c.n > maxChoices {
			writeError(w, invalid("n", "'n' must be between 1 and %d", maxChoices))
			return nil, nil, false
		}
		if c.n > 1 && req.Stream {
			writeError(w, invalid("n", "'n' above 1 cannot be streamed; send several requests instead"))
			return nil, nil, false
		}
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return nil, nil, false
	}
	c.b = b
	if e := c.setup(r); e != nil {
		release()
		writeError(w, e)
		return nil, nil, false
	}
	return c, release, true
}

func (c *chatCall) setup(r *http.Request) *apiError {
	req, b := &c.req, c.b
	opts, e := b.chatOptions(req)
	if e != nil {
		return e
	}
	msgs, e := chatMessages(req.Messages)
	if e != nil {
		return e
	}
	// A final assistant message is the beginning of the reply, which
	// generation continues (llama-server's prefill, vLLM's
	// continue_final_message).
	addGen := req.AddGenerationPrompt == nil || *req.AddGenerationPrompt
	if req.ContinueFinalMessage && req.AddGenerationPrompt != nil && *req.AddGenerationPrompt {
		return invalid("continue_final_message", "'continue_final_message' and 'add_generation_prompt' cannot both be true")
	}
	prefill := ""
	if last := len(msgs) - 1; msgs[last].Role == "assistant" && len(msgs[last].ToolCalls) == 0 && (addGen || req.ContinueFinalMessage) {
		if last > 0 && msgs[last-1].Role == "assistant" {
			return invalid("messages", "two or more assistant messages cannot end the list: the last one is continued")
		}
		prefill, e = messageContentSep(req.Messages[last].Content, fmt.Sprintf("messages[%d].content", last), "\n\n")
		if e != nil {
			return e
		}
		msgs, addGen = msgs[:last], true
	} else if req.ContinueFinalMessage {
		return invalid("continue_final_message", "'continue_final_message' needs a final assistant message")
	}
	tools, e := b.toolSetup(req, &opts)
	if e != nil {
		return e
	}
	vars := req.ChatTemplateKwargs
	if tools != nil {
		vars, msgs = b.withTools(tools, vars, msgs)
	}
	prompt, e := b.chatPromptWith(r.Context(), msgs, vars, addGen, prefill)
	if e != nil {
		return e
	}
	c.opts, c.tools, c.prompt = opts, tools, prompt
	return nil
}

// verbose is llama-server's __verbose object, when the request or the
// server asks for it.
func (c *chatCall) verbose(s *Server) map[string]any {
	if !c.req.Verbose && !s.opts.Verbose {
		return nil
	}
	return map[string]any{"prompt": c.b.e.Tokenizer().Decode(c.prompt, true)}
}

// choice turns one generation into a chat choice.
func (c *chatCall) choice(index int, toks []engine.Token, res engine.Result) chatChoice {
	b := c.b
	finish := finishReason(res.StopReason)
	reasoning, content, calls := b.splitReply(joinText(toks), c.tools)
	msg := &chatOut{Role: "assistant", Content: &content}
	if reasoning != "" {
		msg.ReasoningContent = &reasoning
	}
	if len(calls) > 0 {
		msg.ToolCalls, finish = toolCallsOut(calls, false), strPtr("tool_calls")
		if content == "" {
			msg.Content = nil
		}
	}
	ch := chatChoice{Index: index, Message: msg, FinishReason: finish}
	if c.opts.Logprobs {
		ch.Logprobs = b.chatLogprobs(toks)
	}
	return ch
}

// progressChunks is the progress sender of a stream that asked for
// return_progress (none otherwise): each report as llama-server's
// prompt_progress, sent by send.
func progressChunks(want bool, send func(*sse, map[string]any) error) []func(*sse, engine.PromptProgress) error {
	if !want {
		return nil
	}
	return []func(*sse, engine.PromptProgress) error{func(out *sse, p engine.PromptProgress) error {
		return send(out, map[string]any{"total": p.Total, "cache": p.Cache, "processed": p.Processed,
			"time_ms": float64(p.Time) / float64(time.Millisecond)})
	}}
}

// handleChatTokens serves POST /v1/chat/completions/input_tokens: the
// prompt tokens a chat request would have (llama-server's).
func (s *Server) handleChatTokens(w http.ResponseWriter, r *http.Request) {
	c, release, ok := s.chatSetup(w, r)
	if !ok {
		return
	}
	defer release()
	s.writeJSON(w, map[string]int{"input_tokens": len(c.prompt)})
}

// handleChat serves POST /v1/chat/completions.
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	c, release, ok := s.chatSetup(w, r)
	if !ok {
		return
	}
	defer release()
	b, req, opts, prompt, tools := c.b, &c.req, c.opts, c.prompt, c.tools
	id, created := newID("chatcmpl-"), time.Now().Unix()
	if !req.Stream {
		// n choices generate together; without a seed each draws its own.
		prompts, each := make([][]int32, c.n), make([]engine.GenerateOptions, c.n)
		for i := range c.n {
			prompts[i], each[i] = prompt, opts
			if i > 0 && req.Seed == nil && !s.opts.DefaultSeed {
				each[i].Seed = mrand.Uint64()
			}
		}
		toks, results, err := b.collectAll(r.Context(), prompts, each)
		if err != nil {
			b.failGeneration(w, r.Context(), err, "messages")
			return
		}
		choices := make([]chatChoice, c.n)
		for i := range choices {
			choices[i] = c.choice(i, toks[i], results[i])
		}
		u := makeUsage(results[0])
		for _, res := range results[1:] {
			u.CompletionTokens += res.Tokens
			u.TotalTokens += res.Tokens
		}
		resp := chatResponse{ID: id, Object: "chat.completion", Created: created, Model: b.name, SystemFingerprint: fingerprint,
			Choices: choices, Usage: u, Verbose: c.verbose(s)}
		if req.TimingsPerToken {
			resp.Timings = timings(results[0])
		}
		b.writeJSON(w, resp)
		return
	}
	split := b.replyStream(tools)
	chunk := func(delta *chatOut, lp *chatLogprobs, finish *string) chatResponse {
		return chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: b.name, SystemFingerprint: fingerprint,
			Choices: []chatChoice{{Delta: delta, Logprobs: lp, FinishReason: finish}}}
	}
	b.runStream(w, r, prompt, opts, "messages",
		func(out *sse) error {
			// The first chunk names the role, with no content yet (as
			// llama-server's).
			return out.send(chunk(&chatOut{Role: "assistant", NullContent: true}, nil, nil))
		},
		func(out *sse, toks []engine.Token) error {
			r, text := split.Push(joinText(toks))
			var reasoning *string
			if r != "" {
				reasoning = &r
			}
			if tools != nil && text == "" && reasoning == nil {
				return nil // held text that may be a tool call
			}
			var lp *chatLogprobs
			if opts.Logprobs {
				lp = b.chatLogprobs(toks)
				if len(lp.Content) == 0 {
					lp = nil
				}
			}
			if text == "" && lp == nil && reasoning == nil {
				return nil
			}
			delta := &chatOut{ReasoningContent: reasoning}
			if text != "" || reasoning == nil {
				delta.Content = &text
			}
			return out.send(chunk(delta, lp, nil))
		},
		func(out *sse, res engine.Result) error {
			finish := finishReason(res.StopReason)
			r, c, calls := split.Finish()
			if r != "" || c != "" {
				delta := &chatOut{}
				if r != "" {
					delta.ReasoningContent = &r
				}
				if c != "" {
					delta.Content = &c
				}
				if err := out.send(chunk(delta, nil, nil)); err != nil {
					return err
				}
			}
			for _, d := range toolCallDeltas(calls) {
				if err := out.send(chunk(&chatOut{ToolCalls: []toolCallOut{d}}, nil, nil)); err != nil {
					return err
				}
			}
			if len(calls) > 0 {
				finish = strPtr("tool_calls")
			}
			last := chunk(&chatOut{}, nil, finish)
			if req.TimingsPerToken {
				last.Timings = timings(res)
			}
			if err := out.send(last); err != nil {
				return err
			}
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				u := chunk(nil, nil, nil)
				u.Choices = []chatChoice{}
				u.Usage = makeUsage(res)
				if req.TimingsPerToken {
					u.Timings = timings(res)
				}
				return out.send(u)
			}
			return nil
		}, progressChunks(req.ReturnProgress, func(out *sse, p map[string]any) error {
			c := chunk(nil, nil, nil)
			c.Choices, c.Progress = []chatChoice{}, p
			return out.send(c)
		})...)
}

// readCalls reads tool calls of tools from text (a harmony reply's
// final channel included: tool_choice required's grammar writes them in
// the Hermes format); without any, text is all content.
func readCalls(text string, tools []chat.Tool) (string, []chat.ToolCall) {
	if content, calls := chat.ParseToolCalls(text, tools); len(calls) > 0 {
		return content, calls
	}
	return text, nil
}

// toolsOrNone is the request's tools, or none (not every name) when it
// has none.
func toolsOrNone(tools []chat.Tool) []chat.Tool {
	if tools == nil {
		return []chat.Tool{}
	}
	return tools
}

// fingerprint is the system_fingerprint of every response (and /props'
// build_info): the build, as llama-server's "b<build>-<commit>" begins,
// here "b-shimmer" and the commit when the binary records one.
var fingerprint = func() string {
	fp := "b-shimmer"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				fp += "-" + s.Value[:7]
			}
		}
	}
	return fp
}()

// chatOptions validates a chat request's generation options.
func (s *backend) chatOptions(req *chatRequest) (engine.GenerateOptions, *apiError) {
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

	return opts, nil
}

// toolSetup reads tools, tool_choice and parallel_tool_calls: the tools
// the template sees (none with tool_choice "none"), and, for "required"
// or a named function, the grammar the output must follow — one call
// (or, with parallel_tool_calls, one or more) in the Hermes format, each
// {"name": …, "arguments": …} valid for that tool's parameters.
func (s *backend) toolSetup(req *chatRequest, opts *engine.GenerateOptions) ([]chat.Tool, *apiError) {
	raw := bytes.TrimSpace(req.Tools)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if c := bytes.TrimSpace(req.ToolChoice); len(c) > 0 && !bytes.Equal(c, []byte("null")) && !bytes.Equal(c, []byte(`"none"`)) && !bytes.Equal(c, []byte(`"auto"`)) {
			return nil, invalid("tool_choice", "'tool_choice' needs 'tools'")
		}
		return nil, nil
	}
	var defs []toolDef
	if err := json.Unmarshal(raw, &defs); err != nil {
		return nil, invalid("tools", "'tools' must be a list of {\"type\": \"function\", \"function\": {\"name\", \"parameters\"}}")
	}
	var tools []chat.Tool
	seen := map[string]bool{}
	for i, d := range defs {
		param := fmt.Sprintf("tools[%d]", i)
		if d.Type != "function" {
			return nil, invalid(param+".type", "%s.type %q is not supported (only \"function\")", param, d.Type)
		}
		if d.Function.Name == "" || seen[d.Function.Name] {
			return nil, invalid(param+".function.name", "%s.function.name is missing or repeated", param)
		}
		seen[d.Function.Name] = true
		if p := d.Function.Parameters; len(p) > 0 && !bytes.Equal(bytes.TrimSpace(p), []byte("null")) {
			if _, err := grammar.SchemaToGBNF(p); err != nil {
				return nil, invalid(param+".function.parameters", "%s.function.parameters: %s", param, strings.TrimPrefix(err.Error(), "grammar: "))
			}
		} else {
			d.Function.Parameters = nil
		}
		tools = append(tools, chat.Tool{Name: d.Function.Name, Description: d.Function.Description, Parameters: d.Function.Parameters})
	}
	choice, only := "auto", ""
	if c := bytes.TrimSpace(req.ToolChoice); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		var str string
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		switch {
		case json.Unmarshal(c, &str) == nil:
			choice = str
		case json.Unmarshal(c, &named) == nil && named.Function.Name != "":
			choice, only = "function", named.Function.Name
			if !seen[only] {
				return nil, invalid("tool_choice", "tool_choice names %q, which is not among the tools", only)
			}
		default:
			return nil, invalid("tool_choice", "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"function\": {\"name\"}}")
		}
	}
	switch choice {
	case "none":
		return nil, nil
	case "auto":
		return tools, nil
	case "required", "function":
		if opts.Grammar != nil {
			return nil, invalid("tool_choice", "tool_choice %q cannot be combined with response_format, grammar or json_schema", choice)
		}
		g, err := chat.ToolCallGrammar(tools, only, req.ParallelToolCalls == nil || *req.ParallelToolCalls)
		if err != nil {
			return nil, invalid("tools", "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "grammar: "), "chat: "))
		}
		opts.Grammar = g
		return tools, nil
	}
	return nil, invalid("tool_choice", "tool_choice %q is not one of auto, none, required", choice)
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
		out[i] = chat.Message{Role: m.Role, Content: content, ToolCallID: m.ToolCallID, Name: m.Name, Reasoning: m.ReasoningContent}
		if out[i].Reasoning == "" {
			out[i].Reasoning = m.Thinking
		}
		for _, c := range m.ToolCalls {
			out[i].ToolCalls = append(out[i].ToolCalls, chat.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
		}
	}
	return out, nil
}

// messageContent reads a content: a string, null, or an array of text
// parts (joined by newlines).
func messageContent(raw json.RawMessage, param string) (string, *apiError) {
	return messageContentSep(raw, param, "\n")
}

// messageContentSep is messageContent with parts joined by sep.
func messageContentSep(raw json.RawMessage, param, sep string) (string, *apiError) {
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
	return strings.Join(texts, sep), nil
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
func (s *backend) chatLogprobs(toks []engine.Token) *chatLogprobs {
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

// withTools passes tools to the template, or, to a template that does not
// render them, describes them in the system message and writes earlier
// calls as the Hermes text that description asks for.
func (s *backend) withTools(tools []chat.Tool, vars map[string]any, msgs []chat.Message) (map[string]any, []chat.Message) {
	v := map[string]any{}
	for k, x := range vars {
		v[k] = x
	}
	v["tools"] = chat.ToolsVar(tools)
	if s.tpl.KnowsTools() {
		return v, msgs
	}
	out := append([]chat.Message(nil), msgs...)
	desc := chat.ToolSystemPrompt(tools)
	if len(out) > 0 && out[0].Role == "system" {
		out[0].Content += "\n\n" + desc
	} else {
		out = append([]chat.Message{{Role: "system", Content: desc}}, out...)
	}
	for i, m := range out {
		if len(m.ToolCalls) > 0 && m.Content == "" {
			var b strings.Builder
			for j, c := range m.ToolCalls {
				if j > 0 {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, "<tool_call>\n{\"name\": %q, \"arguments\": %s}\n</tool_call>", c.Name, c.Arguments)
			}
			out[i].Content = b.String()
		}
	}
	return v, out
}

// toolCallsOut gives calls their ids in OpenAI's format.
func toolCallsOut(calls []chat.ToolCall, indexed bool) []toolCallOut {
	out := make([]toolCallOut, len(calls))
	for i, c := range calls {
		out[i].ID, out[i].Type = newID("call_"), "function"
		out[i].Function.Name, out[i].Function.Arguments = c.Name, c.Arguments
		if indexed {
			out[i].Index = &i
		}
	}
	return out
}

// toolCallDeltas streams calls as OpenAI does: per call a delta with its
// index, id, type and name, then its arguments in pieces.
func toolCallDeltas(calls []chat.ToolCall) []toolCallOut {
	var out []toolCallOut
	for i, c := range toolCallsOut(calls, true) {
		args := c.Function.Arguments
		head := c
		head.Function.Arguments = ""
		out = append(out, head)
		for len(args) > 0 {
			n := min(len(args), 24)
			var d toolCallOut
			d.Index = &i
			d.Function.Arguments = args[:n]
			out = append(out, d)
			args = args[n:]
		}
	}
	return out
}
