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
