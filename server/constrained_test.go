package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/grammar"
)

// response_format json_schema through the official Go client: every
// answer of stories260K (a model that knows no JSON) parses and is a
// sentence of the schema's grammar; json_object gives an object; the
// llama-server fields grammar and json_schema constrain text completions;
// bad constraints are 400s naming the field.
func TestStructuredOutput(t *testing.T) {
	f := newFixture(t, engine.Options{Sequences: 2}, Options{})
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"title": map[string]any{"type": "string", "maxLength": 20},
			"count": map[string]any{"type": "integer", "minimum": 1, "maximum": 9},
			"kind":  map[string]any{"enum": []any{"story", "poem"}},
		},
		"required":             []any{"title", "count", "kind"},
		"additionalProperties": false,
	}
	raw, _ := json.Marshal(schema)
	g, err := grammar.FromSchema(raw)
	if err != nil {
		t.Fatal(err)
	}
	for seed := int64(1); seed <= 4; seed++ {
		resp, err := f.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:     model,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
			MaxTokens: openai.Int(300),
			Seed:      openai.Int(seed),
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "story", Schema: schema, Strict: openai.Bool(true)},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		text := resp.Choices[0].Message.Content
		var v map[string]any
		if resp.Choices[0].FinishReason != "stop" || json.Unmarshal([]byte(text), &v) != nil || !g.Match(text) {
			t.Errorf("seed %d: finish %s, %q", seed, resp.Choices[0].FinishReason, text)
		}
		t.Logf("seed %d: %s", seed, text)
	}
	resp, err := f.client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:          model,
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		MaxTokens:      openai.Int(200),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if text := resp.Choices[0].Message.Content; json.Unmarshal([]byte(text), &obj) != nil && resp.Choices[0].FinishReason != "length" {
		t.Errorf("json_object: %q", text)
	}
	for _, c := range []struct{ body, want string }{
		{`{"prompt":"Once","max_tokens":20,"grammar":"root ::= (\"yes\" | \"no\") \"!\""}`, `yes!|no!`},
		{`{"prompt":"Once","max_tokens":50,"json_schema":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":2}}`, `[`},
	} {
		status, _, body := post(t, f.ts.URL+"/v1/completions", c.body)
		var r struct {
			Choices []struct {
				Text string `json:"text"`
			}
		}
		json.Unmarshal([]byte(body), &r)
		if status != 200 || len(r.Choices) != 1 || !strings.Contains(c.want+"|", r.Choices[0].Text+"|") && !strings.HasPrefix(r.Choices[0].Text, c.want) {
			t.Errorf("%s: %d %s", c.body, status, body)
		}
		t.Logf("%s → %q", c.body, r.Choices[0].Text)
	}
	for _, c := range []struct{ body, param string }{
		{`{"prompt":"Once","grammar":"root ::= foo"}`, "grammar"},
		{`{"prompt":"Once","json_schema":{"type":"string","format":"ipv6"}}`, "json_schema"},
		{`{"prompt":"Once","grammar":"root ::= \"a\"","json_schema":{}}`, "json_schema"},
		{`{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}`, "response_format.type"},
		{`{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{`{"prompt":"Once","grammar":"root ::= [] \"x\""}`, ""},
	} {
		path := "/v1/completions"
		if strings.Contains(c.body, "messages") {
			path = "/v1/chat/completions"
		}
		status, _, body := post(t, f.ts.URL+path, c.body)
		if status != 400 || !strings.Contains(body, `"param":"`+c.param+`"`) && c.param != "" {
			t.Errorf("%s: %d %s", c.body, status, body)
		}
	}
	// The server serves on.
	if status, _, _ := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":2}`); status != 200 {
		t.Errorf("afterwards: %d", status)
	}
}

// llama-server sampler fields shimmer lacks are refused by name when they
// ask for something; at their neutral values they pass.
func TestUnsupportedSamplerFields(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	for _, c := range []struct{ field, value string }{
		{"mirostat", "2"}, {"typical_p", "0.5"}, {"tfs_z", "0.9"}, {"dynatemp_range", "0.5"}, {"xtc_probability", "0.5"},
		{"dry_multiplier", "0.8"}, {"top_n_sigma", "1"}, {"samplers", `["top_k"]`}, {"grammar_lazy", "true"}, {"n_probs", "3"},
	} {
		status, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":1,"`+c.field+`":`+c.value+`}`)
		if status != 400 || !strings.Contains(body, `"param":"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s", c.field, c.value, status, body)
		}
	}
	status, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once","max_tokens":1,"mirostat":0,"typical_p":1,"tfs_z":1,"top_n_sigma":-1,"dry_multiplier":0}`)
	if status != 200 {
		t.Errorf("neutral values: %d %s", status, body)
	}
}
