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
	smp "github.com/shimmer-llm/shimmer/sampling"
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

// llama-server sampler fields shimmer lacks (tfs_z, lazy grammars,
// n_probs outside /completion, the infill sampler) are refused by name when they ask for
// something; at their neutral values they pass. The samplers shimmer has
// reach the chain: with a seed, each request gives what the engine gives
// with those options, and the strong ones change the text.
func TestSamplerFields(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	for _, c := range []struct{ field, value string }{
		{"tfs_z", "0.9"}, {"dry_multiplier", "-1"}, {"dry_penalty_last_n", "-2"}, {"dry_sequence_breakers", "[]"}, {"grammar_lazy", "true"}, {"n_probs", "3"},
		{"samplers", `["top_k", "infill"]`}, {"mirostat", "3"}, {"samplers", "7"},
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
	text := func(extra string) string {
		t.Helper()
		status, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"Once upon a time","max_tokens":24,"seed":7,"temperature":1,"ignore_eos":true`+extra+`}`)
		if status != 200 {
			t.Fatalf("%s: %d %s", extra, status, body)
		}
		var r struct{ Choices []struct{ Text string } }
		json.Unmarshal([]byte(body), &r)
		return r.Choices[0].Text
	}
	engineText := func(mod func(*engine.SampleOptions)) string {
		so := engine.DefaultSampleOptions()
		so.Temperature, so.Seed = 1, 7
		mod(&so)
		res := ""
		_, err := f.e.Generate(context.Background(), "Once upon a time", engine.GenerateOptions{SampleOptions: so, MaxTokens: 24, IgnoreEOG: true}, func(tk engine.Token) error {
			res += tk.Text
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := text("")
	for _, c := range []struct {
		extra  string
		mod    func(*engine.SampleOptions)
		change bool
	}{
		{`,"mirostat":2,"mirostat_tau":3`, func(o *engine.SampleOptions) { o.Mirostat, o.MirostatTau = 2, 3 }, true},
		{`,"top_n_sigma":0.5`, func(o *engine.SampleOptions) { o.TopNSigma = 0.5 }, true},
		{`,"typical_p":0.5`, func(o *engine.SampleOptions) { o.TypicalP = 0.5 }, false},
		{`,"xtc_probability":1,"xtc_threshold":0.05`, func(o *engine.SampleOptions) { o.XTCProbability, o.XTCThreshold = 1, 0.05 }, true},
		{`,"dynatemp_range":0.5`, func(o *engine.SampleOptions) { o.DynatempRange = 0.5 }, false},
		{`,"dry_multiplier":3,"dry_base":2,"dry_allowed_length":1,"dry_penalty_last_n":-1,"dry_sequence_breakers":["\n"]`, func(o *engine.SampleOptions) {
			o.DRYMultiplier, o.DRYBase, o.DRYAllowedLength, o.DRYPenaltyLastN, o.DRYBreakers = 3, 2, 1, 0, []string{"\n"}
		}, false},
		{`,"samplers":["temperature","top_k"]`, func(o *engine.SampleOptions) { o.Samplers = []smp.Kind{smp.Temperature, smp.TopK} }, false},
		{`,"samplers":"tk"`, func(o *engine.SampleOptions) { o.Samplers = []smp.Kind{smp.Temperature, smp.TopK} }, false},
	} {
		got := text(c.extra)
		if want := engineText(c.mod); got != want {
			t.Errorf("%s: %q, the engine with those options %q", c.extra, got, want)
		}
		if c.change && got == base {
			t.Errorf("%s: the same text as without it: %q", c.extra, got)
		}
	}
	// DRY changes a text that repeats itself: greedy, the model goes on
	// with the repeat; DRY stops it.
	rep := "The dog said hi. The dog said hi. The dog said hi. He was very happy. He wanted to play with the dog."
	greedy := func(extra string) string {
		status, _, body := post(t, f.ts.URL+"/v1/completions", `{"prompt":"`+rep+`","max_tokens":8,"temperature":0`+extra+`}`)
		var r struct{ Choices []struct{ Text string } }
		if status != 200 || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("%s: %d %s", extra, status, body)
		}
		return r.Choices[0].Text
	}
	if plain, dry := greedy(""), greedy(`,"dry_multiplier":2`); !strings.HasPrefix(plain, " He wanted to play") || strings.HasPrefix(dry, " He wanted to play") {
		t.Errorf("repeating prompt: %q, with DRY %q", plain, dry)
	}
}
