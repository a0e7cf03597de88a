package server

import (
	"context"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/shimmer-llm/shimmer/engine"
)

// chatText is the greedy reply of /v1/chat/completions to one user turn
// (with a system turn), the text the other dialects must give.
func chatText(t *testing.T, f *fixture, system, user string, n int64) string {
	t.Helper()
	res, err := f.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:       "stories260K",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system), openai.UserMessage(user)},
		MaxTokens:   openai.Int(n),
		Temperature: openai.Float(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Choices[0].Message.Content
}

// Anthropic's official Go SDK against /v1/messages: a message, its event
// stream (accumulated by the SDK) and count_tokens give what the chat
// endpoint gives for the same turns, with Anthropic's stop reason and
// usage.
func TestAnthropicMessages(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	want := chatText(t, f, "Be short.", "Tell me a story.", 12)
	// Greedy: the SDK has no temperature field, so it is set in the body.
	c := anthropic.NewClient(aoption.WithBaseURL(f.ts.URL), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0), aoption.WithJSONSet("temperature", 0))
	params := anthropic.MessageNewParams{
		Model: "stories260K", MaxTokens: 12,
		System:   []anthropic.TextBlockParam{{Text: "Be short."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a story."))},
	}
	msg, err := c.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != want || msg.StopReason != "max_tokens" || msg.Usage.OutputTokens != 12 || msg.Usage.InputTokens == 0 {
		t.Errorf("message %+v, chat gave %q", msg, want)
	}
	stream := c.Messages.NewStreaming(context.Background(), params)
	var acc anthropic.Message
	events := 0
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
		events++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != want || acc.StopReason != "max_tokens" || events < 6 {
		t.Errorf("stream: %d events, %+v", events, acc)
	}
	n, err := c.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model: "stories260K", Messages: params.Messages,
		System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: params.System},
	})
	// The message's input is the tokens read anew and those the cache
	// held (the chat request before it left the same prefix).
	if in := msg.Usage.InputTokens + msg.Usage.CacheReadInputTokens; err != nil || n.InputTokens != in {
		t.Errorf("count_tokens: %+v %v (the message's input: %d)", n, err, in)
	}
	if _, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "stories260K", Messages: params.Messages}); err == nil {
		t.Error("a request without max_tokens was accepted")
	}
}

// OpenAI's official Go SDK against /v1/responses: a response and its event
// stream give what the chat endpoint gives, with status incomplete at the
// token limit.
func TestOpenAIResponses(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	want := chatText(t, f, "Be short.", "Tell me a story.", 12)
	params := responses.ResponseNewParams{
		Model:           "stories260K",
		Instructions:    openai.String("Be short."),
		Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("Tell me a story.")},
		MaxOutputTokens: openai.Int(12),
		Temperature:     openai.Float(0),
	}
	res, err := f.client.Responses.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if res.OutputText() != want || res.Status != "incomplete" || res.Usage.OutputTokens != 12 {
		t.Errorf("response %q status %s usage %+v, chat gave %q", res.OutputText(), res.Status, res.Usage, want)
	}
	stream := f.client.Responses.NewStreaming(context.Background(), params)
	var deltas string
	var final responses.Response
	types := map[string]bool{}
	for stream.Next() {
		ev := stream.Current()
		types[ev.Type] = true
		switch ev.Type {
		case "response.output_text.delta":
			deltas += ev.Delta
		case "response.completed", "response.incomplete":
			final = ev.Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if deltas != want || final.OutputText() != want || !types["response.created"] || !types["response.output_text.done"] {
		t.Errorf("stream: deltas %q, final %q, events %v", deltas, final.OutputText(), types)
	}
}
