package chat

import (
	"strings"
	"testing"
)

// The tool-call formats of the model families shimmer runs are read into
// calls of the known tools, with the text around them.
func TestParseToolCalls(t *testing.T) {
	tools := []Tool{{Name: "get_weather"}, {Name: "add"}}
	cases := []struct {
		text, content string
		calls         []ToolCall
	}{
		{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "", []ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
		{"Let me check.\n<tool_call>{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":2}}</tool_call>\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>", "Let me check.",
			[]ToolCall{{Name: "add", Arguments: `{"a":1,"b":2}`}, {Name: "get_weather", Arguments: `{}`}}},
		{`[TOOL_CALLS][{"name": "add", "arguments": {"a": 1}}]`, "", []ToolCall{{Name: "add", Arguments: `{"a":1}`}}},
		{`<|python_tag|>{"name": "get_weather", "parameters": {"city": "Rome"}}`, "", []ToolCall{{Name: "get_weather", Arguments: `{"city":"Rome"}`}}},
		{`{"name": "add", "parameters": {"a": 2}}`, "", []ToolCall{{Name: "add", Arguments: `{"a":2}`}}},
		{`{"type": "function", "function": {"name": "add", "arguments": "{\"a\": 3}"}}`, "", []ToolCall{{Name: "add", Arguments: `{"a": 3}`}}},
		{`{"name": "unknown", "arguments": {}}`, `{"name": "unknown", "arguments": {}}`, nil},
		{"Just text.", "Just text.", nil},
	}
	for _, c := range cases {
		content, calls := ParseToolCalls(c.text, tools)
		if content != c.content || len(calls) != len(c.calls) {
			t.Errorf("%q: content %q, calls %+v", c.text, content, calls)
			continue
		}
		for i := range calls {
			if calls[i] != c.calls[i] {
				t.Errorf("%q: call %d %+v, want %+v", c.text, i, calls[i], c.calls[i])
			}
		}
	}
}

// A tool whose parameters use local references keeps them working inside
// the call schema.
func TestToolCallSchemaRefs(t *testing.T) {
	params := []byte(`{"$defs":{"p":{"type":"integer"}},"type":"object","properties":{"a":{"$ref": "#/$defs/p"}},"required":["a"]}`)
	for _, tools := range [][]Tool{{{Name: "f", Parameters: params}}, {{Name: "g"}, {Name: "f", Parameters: params}}} {
		s, err := ToolCallSchema(tools, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(s), `"$ref": "#/`) || strings.Contains(string(s), `"#/$defs`) {
			t.Errorf("references not moved: %s", s)
		}
	}
}

// A template that knows tools sees them as transformers passes them, and
// the calls and tool answers of the history with their fields (the
// arguments as an object, as Qwen's and Llama's templates expect).
func TestTemplateSeesTools(t *testing.T) {
	src := `{% for t in tools %}[tool {{ t.function.name }}: {{ t.function.parameters | tojson }}]{% endfor %}` +
		`{% for m in messages %}<{{ m.role }}>{% if m.tool_calls %}{% for c in m.tool_calls %}call {{ c.function.name }} {{ c.function.arguments | tojson }} id={{ c.id }}{% endfor %}{% else %}{{ m.content }}{% endif %}{% if m.tool_call_id %} for={{ m.tool_call_id }}{% endif %}{% endfor %}`
	tpl, err := New("t", src, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.KnowsTools() {
		t.Error("the template renders tools")
	}
	tools := []Tool{{Name: "add", Parameters: []byte(`{"type":"object","properties":{"a":{"type":"integer"}}}`)}}
	msgs := []Message{
		{Role: "user", Content: "1+1?"},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Name: "add", Arguments: `{"a": 1}`}}},
		{Role: "tool", Content: "2", ToolCallID: "call_1"},
	}
	out, err := tpl.Render(msgs, false, map[string]any{"tools": ToolsVar(tools)})
	if err != nil {
		t.Fatal(err)
	}
	// Keys come out sorted: Go maps keep no order (transformers keeps the
	// schema's).
	want := `[tool add: {"properties": {"a": {"type": "integer"}}, "type": "object"}]<user>1+1?<assistant>call add {"a": 1} id=call_1<tool>2 for=call_1`
	if out != want {
		t.Errorf("rendered\n %s\nwant\n %s", out, want)
	}
}

// A streamed answer sends its text as it comes, holds back what may begin
// a tool call, and holds everything from a call marker (or an answer
// that opens with JSON) to the end.
func TestToolStream(t *testing.T) {
	cases := []struct {
		pieces     []string
		sent, held string
	}{
		{[]string{"Hello", " there", ", friend."}, "Hello there, friend.", ""},
		{[]string{"Let me check.", "\n<tool", "_call>{\"name\"", ": \"f\"}</tool_call>"}, "Let me check.\n", `<tool_call>{"name": "f"}</tool_call>`},
		{[]string{"a <", "b"}, "a <b", ""},
		{[]string{" ", "{\"name\": ", "\"f\"}"}, "", ` {"name": "f"}`},
		{[]string{"x [TOOL_", "CALLS][{}]"}, "x ", "[TOOL_CALLS][{}]"},
		{[]string{"ends with <tool"}, "ends with ", "<tool"},
	}
	for _, c := range cases {
		var s ToolStream
		var sent strings.Builder
		for _, p := range c.pieces {
			sent.WriteString(s.Push(p))
		}
		if sent.String() != c.sent || s.Held() != c.held {
			t.Errorf("%q: sent %q, held %q; want %q, %q", c.pieces, sent.String(), s.Held(), c.sent, c.held)
		}
	}
}
