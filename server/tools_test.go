package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/shimmer-llm/shimmer/engine"
)

var weatherTool = openai.ChatCompletionToolUnionParam{OfFunction: &openai.ChatCompletionFunctionToolParam{
	Function: shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("The weather in a city"),
		Parameters: shared.FunctionParameters{
			"type": "object",
			"properties": map[string]any{
				"city": map[string]any{"type": "string", "maxLength": 20},
				"unit": map[string]any{"enum": []any{"celsius", "fahrenheit"}},
				"days": map[string]any{"type": "integer", "minimum": 1, "maximum": 7},
			},
			"required":             []any{"city", "unit", "days"},
			"additionalProperties": false,
		},
	},
}}

var addTool = openai.ChatCompletionToolUnionParam{OfFunction: &openai.ChatCompletionFunctionToolParam{
	Function: shared.FunctionDefinitionParam{
		Name: "add",
		Parameters: shared.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"a": map[string]any{"type": "integer"}, "b": map[string]any{"type": "integer"}},
			"required":   []any{"a", "b"},
		},
	},
}}

// checkWeather validates arguments against get_weather's parameters.
func checkWeather(t *testing.T, args string) {
	t.Helper()
	var v struct {
		City *string `json:"city"`
		Unit *string `json:"unit"`
		Days *int    `json:"days"`
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.City == nil || v.Unit == nil || v.Days == nil ||
		(*v.Unit != "celsius" && *v.Unit != "fahrenheit") || *v.Days < 1 || *v.Days > 7 {
		t.Errorf("arguments %s do not fit get_weather: %v", args, err)
	}
}

// With tool_choice required (or a named function) even stories260K,
// which has never seen a tool, returns valid calls: every
// function.arguments parses and fits its tool's parameters, the finish
// reason is tool_calls, and the streamed deltas reassemble to calls of the
// same shape. A tool turn and an assistant call in the history render.
func TestToolCalls(t *testing.T) {
	f := newFixture(t, engine.Options{Sequences: 2}, Options{})
	ctx := context.Background()
	for seed := int64(1); seed <= 3; seed++ {
		resp, err := f.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:             model,
			Messages:          []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
			Tools:             []openai.ChatCompletionToolUnionParam{weatherTool, addTool},
			ToolChoice:        openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			ParallelToolCalls: openai.Bool(false),
			MaxTokens:         openai.Int(300),
			Seed:              openai.Int(seed),
		})
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Choices[0]
		if c.FinishReason != "tool_calls" || len(c.Message.ToolCalls) != 1 {
			t.Fatalf("seed %d: finish %s, message %+v", seed, c.FinishReason, c.Message)
		}
		call := c.Message.ToolCalls[0]
		t.Logf("seed %d: %s(%s)", seed, call.Function.Name, call.Function.Arguments)
		switch call.Function.Name {
		case "get_weather":
			checkWeather(t, call.Function.Arguments)
		case "add":
			var v struct{ A, B *int }
			if json.Unmarshal([]byte(call.Function.Arguments), &v) != nil || v.A == nil || v.B == nil {
				t.Errorf("add(%s)", call.Function.Arguments)
			}
		default:
			t.Errorf("unknown tool %q", call.Function.Name)
		}
		if !strings.HasPrefix(call.ID, "call_") || call.Type != "function" {
			t.Errorf("call %+v", call)
		}
	}
	// A named function, streamed: the deltas reassemble to one call.
	stream := f.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather?")},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool, addTool},
		ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfFunctionToolChoice: &openai.ChatCompletionNamedToolChoiceParam{
			Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}}},
		MaxTokens: openai.Int(300),
		Seed:      openai.Int(9),
	})
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 || acc.Choices[0].FinishReason != "tool_calls" || len(acc.Choices[0].Message.ToolCalls) < 1 {
		t.Fatalf("stream: %+v", acc.Choices)
	}
	for _, call := range acc.Choices[0].Message.ToolCalls {
		if call.Function.Name != "get_weather" {
			t.Errorf("streamed call of %q", call.Function.Name)
		}
		checkWeather(t, call.Function.Arguments)
	}
	// History with a call and its result renders and generates.
	_, err := f.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("Weather in Paris?"),
			{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
					Name: "get_weather", Arguments: `{"city": "Paris", "unit": "celsius", "days": 1}`}}}}}},
			openai.ToolMessage(`{"temperature": 21}`, "call_1"),
		},
		Tools:     []openai.ChatCompletionToolUnionParam{weatherTool},
		MaxTokens: openai.Int(10),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ body, param string }{
		{`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"code"}]}`, "tools[0].type"},
		{`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","minProperties":1}}}]}`, "tools[0].function.parameters"},
		{`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}`, "tool_choice"},
		{`{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}`, "tool_choice"},
	} {
		status, _, body := post(t, f.ts.URL+"/v1/chat/completions", c.body)
		if status != 400 || !strings.Contains(body, `"param":"`+c.param+`"`) {
			t.Errorf("%s: %d %s", c.body, status, body)
		}
	}
}

// With tool_choice auto and an answer that is plain text, a stream
// sends the same text as without tools, as it comes (how many chunks
// depends on timing; chat TestToolStream covers what is held back).
func TestToolsAutoStreamsContent(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	run := func(tools []openai.ChatCompletionToolUnionParam) (string, int, string) {
		stream := f.client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
			Model:     model,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
			Tools:     tools,
			MaxTokens: openai.Int(40),
			Seed:      openai.Int(3),
		})
		chunks, text, finish := 0, "", ""
		for stream.Next() {
			c := stream.Current()
			if len(c.Choices) == 0 {
				continue
			}
			if c.Choices[0].Delta.Content != "" {
				chunks++
				text += c.Choices[0].Delta.Content
			}
			if c.Choices[0].FinishReason != "" {
				finish = c.Choices[0].FinishReason
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		return text, chunks, finish
	}
	withTools, chunks, finish := run([]openai.ChatCompletionToolUnionParam{weatherTool})
	t.Logf("%d content chunks, finish %s: %q", chunks, finish, withTools)
	if finish != "length" || withTools == "" || strings.Contains(withTools, "<tool_call>") {
		t.Errorf("finish %s, text %q", finish, withTools)
	}
	// The tools change the prompt (they are described in the system
	// message), so compare with the same request's non-streamed text.
	resp, err := f.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     model,
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
		Tools:     []openai.ChatCompletionToolUnionParam{weatherTool},
		MaxTokens: openai.Int(40),
		Seed:      openai.Int(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != withTools {
		t.Errorf("streamed %q, not streamed %q", withTools, resp.Choices[0].Message.Content)
	}
}
