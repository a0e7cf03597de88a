package chat

import (
	"os"
	"strings"
	"testing"
)

// Hand-written gpt-oss outputs (what follows the generation prompt
// <|start|>assistant), in the forms OpenAI's harmony guide gives.
func TestParseHarmony(t *testing.T) {
	weather := []Tool{{Name: "get_weather"}}
	cases := []struct {
		name, text         string
		tools              []Tool
		reasoning, content string
		callName, callArgs string
	}{
		{"reasoning then answer", "<|channel|>analysis<|message|>User asks 2+2. Answer 4.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.", nil, "User asks 2+2. Answer 4.", "2 + 2 = 4.", "", ""},
		{"answer only", "<|channel|>final<|message|>Hello!", nil, "", "Hello!", "", ""},
		{"ends with return", "<|channel|>final<|message|>Hi<|return|>", nil, "", "Hi", "", ""},
		{"plain text", "no markup here", nil, "", "no markup here", "", ""},
		{"cut off while reasoning", "<|channel|>analysis<|message|>Let me th", nil, "Let me th", "", "", ""},
		{"tool call, recipient after channel", `<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Paris"}<|call|>`, weather, "Need weather.", "", "get_weather", `{"location":"Paris"}`},
		{"tool call, recipient before channel", `<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"location": "Oslo"}`, weather, "", "", "get_weather", `{"location": "Oslo"}`},
		{"unknown tool is no call", `<|channel|>commentary to=functions.launch <|constrain|>json<|message|>{}<|call|>`, weather, "", "", "", ""},
		{"commentary preamble is content", "<|channel|>commentary<|message|>Checking the weather.<|end|>", weather, "", "Checking the weather.", "", ""},
	}
	for _, c := range cases {
		r := ParseHarmony(c.text, c.tools)
		if r.Reasoning != c.reasoning || r.Content != c.content {
			t.Errorf("%s: reasoning %q content %q, want %q %q", c.name, r.Reasoning, r.Content, c.reasoning, c.content)
		}
		if c.callName == "" {
			if len(r.ToolCalls) != 0 {
				t.Errorf("%s: unexpected calls %+v", c.name, r.ToolCalls)
			}
		} else if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != c.callName || r.ToolCalls[0].Arguments != c.callArgs {
			t.Errorf("%s: calls %+v, want %s(%s)", c.name, r.ToolCalls, c.callName, c.callArgs)
		}
	}
}

// Streaming the same text in pieces of every size gives the same
// reasoning and content as parsing it whole, and no marker text leaks.
func TestHarmonyStream(t *testing.T) {
	text := `<|channel|>analysis<|message|>Think <b> about |it|.<|end|><|start|>assistant<|channel|>final<|message|>Done: a<|b.`
	want := ParseHarmony(text, nil)
	for size := 1; size <= 9; size++ {
		var s HarmonyStream
		var r, c strings.Builder
		for i := 0; i < len(text); i += size {
			dr, dc := s.Push(text[i:min(i+size, len(text))])
			r.WriteString(dr)
			c.WriteString(dc)
			for _, m := range harmonyMarkers {
				if strings.Contains(r.String()+c.String(), m) {
					t.Fatalf("size %d: marker %s leaked: %q %q", size, m, r.String(), c.String())
				}
			}
		}
		dr, dc, _ := s.Finish(nil)
		r.WriteString(dr)
		c.WriteString(dc)
		if r.String() != want.Reasoning || c.String() != want.Content {
			t.Errorf("size %d: streamed %q %q, whole %q %q", size, r.String(), c.String(), want.Reasoning, want.Content)
		}
	}
	if want.Reasoning != "Think <b> about |it|." || want.Content != "Done: a<|b." {
		t.Errorf("whole: %q %q", want.Reasoning, want.Content)
	}
}

// The gpt-oss chat template (OpenAI's, as llama.cpp ships it in
// models/templates; testdata/gpt-oss.jinja) renders through the Jinja
// engine: a system turn becomes the developer message, earlier assistant
// turns their final channel, and the prompt ends in <|start|>assistant.
func TestHarmonyTemplate(t *testing.T) {
	src, err := os.ReadFile("testdata/gpt-oss.jinja")
	if err != nil {
		t.Fatal(err)
	}
	if !IsHarmony(string(src)) {
		t.Fatal("IsHarmony is false for the gpt-oss template")
	}
	tm, err := New("gpt-oss", string(src), "<|startoftext|>", "<|return|>")
	if err != nil {
		t.Fatal(err)
	}
	out, err := tm.Render([]Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello!"}, {Role: "user", Content: "2+2?"}}, true, map[string]any{"reasoning_effort": "low"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: ",
		"\n\nReasoning: low\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>",
		"<|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello!<|end|><|start|>user<|message|>2+2?<|end|><|start|>assistant",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered prompt lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "<|start|>assistant") {
		t.Errorf("prompt does not end with the generation prompt: %q", out)
	}
	// An assistant tool call and the tool's answer, in harmony's form
	// (the template puts the arguments through tojson).
	out, err = tm.Render([]Message{{Role: "user", Content: "Weather in Paris?"},
		{Role: "assistant", ToolCalls: []ToolCall{{ID: "c1", Name: "get_weather", Arguments: `{"location":"Paris"}`}}},
		{Role: "tool", ToolCallID: "c1", Content: "18C"}}, true, map[string]any{"tools": ToolsVar([]Tool{{Name: "get_weather", Description: "Weather.", Parameters: []byte(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}})})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"namespace functions {\n\n// Weather.\ntype get_weather = (_: {\nlocation: string,\n}) => any;\n\n} // namespace functions",
		`<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>`,
		"<|call|><|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>\"18C\"<|end|><|start|>assistant",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered prompt lacks %q:\n%s", want, out)
		}
	}
}

// Conditional expressions in parentheses are rewritten for gonja; other
// parentheses, calls and text outside tags are not.
func TestRewriteConditionals(t *testing.T) {
	for in, want := range map[string]string{
		`{{ (a if b else "c") + d }}`:           `{{ (__cond(b, a, "c")) + d }}`,
		`{{ f(x) }} (a if b else c)`:            `{{ f(x) }} (a if b else c)`,
		`{% set y = (1 if (x > 2) else 3) %}`:   `{% set y = (__cond((x > 2), 1, 3)) %}`,
		`{{ ("if" if "else" in s else "no") }}`: `{{ (__cond("else" in s, "if", "no")) }}`,
		`{{ not (a if b else c) }}`:             `{{ not (__cond(b, a, c)) }}`,
		`{{ (a, b) }}`:                          `{{ (a, b) }}`,
		`{{ f(a if b else c) }}`:                `{{ f(__cond(b, a, c)) }}`,
		`{{ f(x, a if b else c) }}`:             `{{ f(x, a if b else c) }}`,
	} {
		if got := rewriteConditionals(in); got != want {
			t.Errorf("rewriteConditionals(%q) = %q, want %q", in, got, want)
		}
	}
	tm, err := New("t", `{{- (x if x is defined else "none") + "!" -}}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for vars, want := range map[string]string{"set": "v!", "unset": "none!"} {
		v := map[string]any{}
		if vars == "set" {
			v["x"] = "v"
		}
		if out, err := tm.Render(nil, false, v); err != nil || out != want {
			t.Errorf("%s: %q, %v; want %q", vars, out, err, want)
		}
	}
}
