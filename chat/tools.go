package chat

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/shimmer-llm/shimmer/grammar"
)

// Tool is a function the model may call: its name, description and the
// JSON Schema of its arguments.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// ToolCall is a call the model made: Arguments is a JSON object's text.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// ToolsVar is the tools variable of chat templates, as transformers
// passes it: [{"type": "function", "function": {name, description,
// parameters}}].
func ToolsVar(tools []Tool) []any {
	out := make([]any, len(tools))
	for i, t := range tools {
		fn := map[string]any{"name": t.Name, "description": t.Description}
		var params any = map[string]any{"type": "object", "properties": map[string]any{}}
		if len(t.Parameters) > 0 {
			if v, ok := decodeValue(t.Parameters); ok {
				params = v
			} else {
				params = map[string]any{}
			}
		}
		fn["parameters"] = params
		out[i] = map[string]any{"type": "function", "function": fn}
	}
	return out
}

// messageVar is a message as templates see it, tool calls included.
func messageVar(m Message) map[string]any {
	v := map[string]any{"role": m.Role, "content": m.Content}
	if m.ToolCallID != "" {
		v["tool_call_id"] = m.ToolCallID
	}
	if m.Name != "" {
		v["name"] = m.Name
	}
	if m.Reasoning != "" {
		v["reasoning_content"] = m.Reasoning
		v["thinking"] = m.Reasoning
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]any, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			var args any = c.Arguments
			if v, ok := decodeValue([]byte(c.Arguments)); ok {
				args = v
			}
			fn := map[string]any{"name": c.Name, "arguments": args}
			calls[i] = map[string]any{"id": c.ID, "type": "function", "function": fn, "name": c.Name, "arguments": args}
		}
		v["tool_calls"] = calls
	}
	return v
}

// KnowsTools reports whether the template renders a tools variable; a
// template that does not needs the tools described in a system message
// (ToolSystemPrompt).
func (t *Template) KnowsTools() bool { return strings.Contains(t.source, "tools") }

// ToolSystemPrompt describes tools for a model whose template does not, in
// the Hermes format that ParseToolCalls reads.
func ToolSystemPrompt(tools []Tool) string {
	var b strings.Builder
	b.WriteString("You may call one or more functions to assist with the user query. The functions are described in JSON Schema within <tools></tools>:\n<tools>\n")
	for _, v := range ToolsVar(tools) {
		j, _ := json.Marshal(v)
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString("</tools>\nFor each function call, return a JSON object with the function name and arguments within <tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>")
	return b.String()
}

var (
	localRef    = regexp.MustCompile(`("\$ref"\s*:\s*")#`)
	hermesCall  = regexp.MustCompile(`(?s)<tool_call>\s*(.*?)\s*(?:</tool_call>|$)`)
	mistralCall = regexp.MustCompile(`(?s)\[TOOL_CALLS\]\s*(.*)$`)
	pythonTag   = regexp.MustCompile(`(?s)<\|python_tag\|>\s*(.*)$`)
)

// ParseToolCalls finds the tool calls in a model's output, in the formats
// of the families shimmer runs: Hermes/Qwen `<tool_call>{"name",
// "arguments"}</tool_call>` (one or more), Mistral `[TOOL_CALLS][{…}]`,
// Llama 3 `<|python_tag|>{…}` or a bare `{"name": …, "parameters": …}`,
// and as a fallback an output that is just such a JSON object (or a list
// of them). Only calls of known tools count. It returns the text around
// the calls (trimmed) and the calls.
func ParseToolCalls(text string, tools []Tool) (string, []ToolCall) {
	known := map[string]bool{}
	for _, t := range tools {
		known[t.Name] = true
	}
	if ms := hermesCall.FindAllStringSubmatchIndex(text, -1); len(ms) > 0 {
		var calls []ToolCall
		for _, m := range ms {
			calls = append(calls, parseCalls(text[m[2]:m[3]], known)...)
		}
		if len(calls) > 0 {
			return strings.TrimSpace(text[:ms[0][0]]), calls
		}
	}
	for _, re := range []*regexp.Regexp{mistralCall, pythonTag} {
		if m := re.FindStringSubmatchIndex(text); m != nil {
			if calls := parseCalls(text[m[2]:m[3]], known); len(calls) > 0 {
				return strings.TrimSpace(text[:m[0]]), calls
			}
		}
	}
	if calls := parseCalls(strings.TrimSpace(text), known); len(calls) > 0 {
		return "", calls
	}
	return text, nil
}

// parseCalls reads one call object, a list of them, or several objects
// separated by ; or newlines.
func parseCalls(s string, known map[string]bool) []ToolCall {
	s = strings.TrimSpace(s)
	dec := json.NewDecoder(strings.NewReader(s))
	var calls []ToolCall
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		items := []any{v}
		if list, ok := v.([]any); ok {
			items = list
		}
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			if fn, ok := m["function"].(map[string]any); ok {
				m = fn
			}
			name, _ := m["name"].(string)
			if !known[name] {
				continue
			}
			args, ok := m["arguments"]
			if !ok {
				args, ok = m["parameters"]
			}
			if !ok {
				args = map[string]any{}
			}
			var text string
			if sv, ok := args.(string); ok && json.Valid([]byte(sv)) {
				text = sv
			} else {
				b, _ := json.Marshal(args)
				text = string(b)
			}
			calls = append(calls, ToolCall{Name: name, Arguments: text})
		}
		// Separators between objects.
		rest := s[dec.InputOffset():]
		rest = strings.TrimLeft(rest, " \t\r\n;,")
		if rest == "" {
			break
		}
		dec = json.NewDecoder(strings.NewReader(rest))
		s = rest
	}
	return calls
}

// ToolCallSchema is the JSON Schema of one call of any of tools (or of the
// one named), for constraining a model to call a tool: {"name": one of
// the names, "arguments": that tool's parameters}.
func ToolCallSchema(tools []Tool, only string) ([]byte, error) {
	var alts []string
	n := 0
	for _, t := range tools {
		if only == "" || t.Name == only {
			n++
		}
	}
	for _, t := range tools {
		if only != "" && t.Name != only {
			continue
		}
		// The parameters move inside the call's schema: their local
		// references ("#/$defs/x") must follow them there.
		at := "#/properties/arguments"
		if n > 1 {
			at = fmt.Sprintf("#/anyOf/%d/properties/arguments", len(alts))
		}
		params := []byte(`{"type":"object"}`)
		if len(t.Parameters) > 0 {
			if !json.Valid(t.Parameters) {
				return nil, fmt.Errorf("chat: tool %q: parameters are not JSON", t.Name)
			}
			params = localRef.ReplaceAll(t.Parameters, []byte("${1}"+at))
		}
		name, _ := json.Marshal(t.Name)
		// Written by hand so that "name" comes before "arguments".
		alts = append(alts, `{"type":"object","properties":{"name":{"const":`+string(name)+`},"arguments":`+string(params)+
			`},"required":["name","arguments"],"additionalProperties":false}`)
	}
	if len(alts) == 0 {
		return nil, fmt.Errorf("chat: no tool named %q", only)
	}
	if len(alts) == 1 {
		return []byte(alts[0]), nil
	}
	return []byte(`{"anyOf":[` + strings.Join(alts, ",") + `]}`), nil
}

// decodeValue decodes JSON for a template: integers stay integers (so
// that they render as 1, not 1.0).
func decodeValue(b []byte) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	var conv func(any) any
	conv = func(x any) any {
		switch t := x.(type) {
		case json.Number:
			if i, err := t.Int64(); err == nil {
				return i
			}
			f, _ := t.Float64()
			return f
		case map[string]any:
			for k, e := range t {
				t[k] = conv(e)
			}
		case []any:
			for i, e := range t {
				t[i] = conv(e)
			}
		}
		return x
	}
	return conv(v), true
}

// toolMarkers begin a tool call in the formats ParseToolCalls reads.
var toolMarkers = []string{"<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"}

// ToolStream splits a streamed answer into the content that can be sent
// at once and the part that may be a tool call, held until the end: an
// answer that begins with JSON or a call marker is held whole; otherwise
// text streams until a call marker appears, and the start of a possible
// marker is held back until it is clear.
type ToolStream struct {
	pending strings.Builder // text not yet sent
	decided bool            // the answer is not a bare JSON call
	holding bool            // a call marker appeared: hold the rest
}

// Push adds text and returns the content that can be sent now.
func (s *ToolStream) Push(text string) string {
	s.pending.WriteString(text)
	if s.holding {
		return ""
	}
	p := s.pending.String()
	if !s.decided {
		t := strings.TrimLeft(p, " \t\r\n")
		if t == "" {
			return ""
		}
		if t[0] == '{' || t[0] == '[' {
			s.holding = true // a bare JSON call (or Mistral's list)
			return ""
		}
		s.decided = true
	}
	for _, m := range toolMarkers {
		if i := strings.Index(p, m); i >= 0 {
			s.holding = true
			s.pending.Reset()
			s.pending.WriteString(p[i:])
			return p[:i]
		}
	}
	// Hold back a tail that may begin a marker.
	keep := 0
	for _, m := range toolMarkers {
		for n := min(len(m)-1, len(p)); n > keep; n-- {
			if strings.HasSuffix(p, m[:n]) {
				keep = n
				break
			}
		}
	}
	s.pending.Reset()
	s.pending.WriteString(p[len(p)-keep:])
	return p[:len(p)-keep]
}

// Held returns what was held back: the tool calls, if any, with the text
// around them.
func (s *ToolStream) Held() string { return s.pending.String() }

// ToolCallGrammar constrains a model to call tools (or only the one
// named) in the Hermes format: <tool_call>, a ToolCallSchema object,
// </tool_call>; one call, or with parallel one or more on their own lines.
func ToolCallGrammar(tools []Tool, only string, parallel bool) (*grammar.Grammar, error) {
	schema, err := ToolCallSchema(tools, only)
	if err != nil {
		return nil, err
	}
	src, err := grammar.SchemaRules(schema, "call-object")
	if err != nil {
		return nil, err
	}
	src += `call ::= "<tool_call>\n" call-object "\n</tool_call>"` + "\n"
	if parallel {
		src += `root ::= call ("\n" call)*` + "\n"
	} else {
		src += "root ::= call\n"
	}
	return grammar.Compile(src)
}
