package server

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// gptossFixture serves tiny-gptoss with the gpt-oss chat template
// (OpenAI's, from chat/testdata).
func gptossFixture(t *testing.T) *fixture {
	src, err := os.ReadFile("../chat/testdata/gpt-oss.jinja")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := chat.New("gpt-oss", string(src), "<|startoftext|>", "<|return|>")
	if err != nil {
		t.Fatal(err)
	}
	return newModelFixture(t, "tiny-gptoss", engine.Options{}, Options{ChatTemplate: tpl})
}

// tiny-gptoss has random weights, so a grammar makes it write harmony:
// the server returns the analysis channel as reasoning_content and the
// final channel as content, streamed or not, and the prompt it ran is the
// template's (it ends in <|start|>assistant).
func TestHarmonyReasoningAndContent(t *testing.T) {
	f := gptossFixture(t)
	const g = `root ::= "<|channel|>analysis<|message|>" [a-z]{4,10} "<|end|><|start|>assistant<|channel|>final<|message|>" [A-Z] [a-z]{3,8}`
	params := openai.ChatCompletionNewParams{
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hi")},
		MaxTokens: openai.Int(200),
		Seed:      openai.Int(7),
	}
	ctx := context.Background()
	resp, err := f.client.Chat.Completions.New(ctx, params, option.WithJSONSet("grammar", g))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	reasoning := m.JSON.ExtraFields["reasoning_content"].Raw()
	if !regexp.MustCompile(`^"[a-z]{4,10}"$`).MatchString(reasoning) {
		t.Errorf("reasoning_content %s is not the analysis channel", reasoning)
	}
	if !regexp.MustCompile(`^[A-Z][a-z]{3,8}$`).MatchString(m.Content) {
		t.Errorf("content %q is not the final channel", m.Content)
	}
	if resp.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason %q", resp.Choices[0].FinishReason)
	}
	// The same request streamed: the deltas add up to the same two parts.
	stream := f.client.Chat.Completions.NewStreaming(ctx, params, option.WithJSONSet("grammar", g))
	var r, c strings.Builder
	for stream.Next() {
		ch := stream.Current()
		if len(ch.Choices) == 0 {
			continue
		}
		d := ch.Choices[0].Delta
		c.WriteString(d.Content)
		if x, ok := d.JSON.ExtraFields["reasoning_content"]; ok && x.Raw() != "null" {
			r.WriteString(strings.Trim(x.Raw(), `"`))
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if `"`+r.String()+`"` != reasoning || c.String() != m.Content {
		t.Errorf("streamed reasoning %q content %q, non-streamed %s %q", r.String(), c.String(), reasoning, m.Content)
	}
}

// A message addressed to functions.NAME is a tool call.
func TestHarmonyToolCall(t *testing.T) {
	f := gptossFixture(t)
	const g = `root ::= "<|channel|>analysis<|message|>" [a-z]{3,6} "<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": " [1-7] "}"`
	resp, err := f.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		Tools:     []openai.ChatCompletionToolUnionParam{weatherTool},
		MaxTokens: openai.Int(200),
	}, option.WithJSONSet("grammar", g))
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
		t.Fatalf("finish %q, calls %+v, content %q", ch.FinishReason, ch.Message.ToolCalls, ch.Message.Content)
	}
	call := ch.Message.ToolCalls[0]
	if call.Function.Name != "get_weather" {
		t.Errorf("called %q", call.Function.Name)
	}
	checkWeather(t, call.Function.Arguments)
	if ch.Message.Content != "" {
		t.Errorf("content %q beside the call", ch.Message.Content)
	}
}

// tool_choice required with a harmony template: the forced call (the
// Hermes grammar's format, in the final channel) still comes back as a
// tool call, streamed or not, with no call text in content.
func TestHarmonyRequiredToolChoice(t *testing.T) {
	f := gptossFixture(t)
	params := openai.ChatCompletionNewParams{
		Messages:   []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		Tools:      []openai.ChatCompletionToolUnionParam{weatherTool},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
		MaxTokens:  openai.Int(300),
	}
	resp, err := f.client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) == 0 || ch.Message.Content != "" {
		t.Fatalf("finish %q, calls %+v, content %q", ch.FinishReason, ch.Message.ToolCalls, ch.Message.Content)
	}
	checkWeather(t, ch.Message.ToolCalls[0].Function.Arguments)
	stream := f.client.Chat.Completions.NewStreaming(context.Background(), params)
	var content strings.Builder
	calls := 0
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) == 0 {
			continue
		}
		content.WriteString(c.Choices[0].Delta.Content)
		for _, tc := range c.Choices[0].Delta.ToolCalls {
			if tc.Function.Name != "" {
				calls++
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if calls == 0 || content.Len() != 0 {
		t.Errorf("streamed: %d calls, content %q", calls, content.String())
	}
}
