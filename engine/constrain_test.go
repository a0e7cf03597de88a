package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/grammar"
)

// Constrained generation with stories260K (which has never seen JSON):
// sampled and greedy outputs under a schema are sentences of it that parse
// as JSON with the schema's shape; the same seed alone or batched with
// other requests gives the same text; a grammar the vocabulary cannot
// express fails with ErrGrammarStuck and the engine serves on.
func TestConstrainedGeneration(t *testing.T) {
	e := load(t, "stories260K", engine.Options{Threads: 2, Sequences: 4})
	schema := `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":3}},"required":["name","age","tags"]}`
	g, err := grammar.FromSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	gen := func(seed uint64, temp float32) (string, engine.Result) {
		var b strings.Builder
		o := engine.GenerateOptions{MaxTokens: 200, Grammar: g, SampleOptions: engine.DefaultSampleOptions()}
		o.Seed, o.Temperature = seed, temp
		res, err := e.Generate(context.Background(), "Once upon a time", o, func(tok engine.Token) error { b.WriteString(tok.Text); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return b.String(), res
	}
	alone := map[uint64]string{}
	for seed := uint64(1); seed <= 6; seed++ {
		temp := float32(0.8)
		if seed == 1 {
			temp = 0
		}
		text, res := gen(seed, temp)
		alone[seed] = text
		if res.StopReason != engine.StopEOG {
			t.Errorf("seed %d: stopped by %s: %q", seed, res.StopReason, text)
			continue
		}
		if !g.Match(text) {
			t.Errorf("seed %d: %q is not a sentence of the grammar", seed, text)
		}
		var v struct {
			Name *string  `json:"name"`
			Age  *int     `json:"age"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil || v.Name == nil || v.Age == nil || *v.Age > 120 || len(*v.Name) > 12*6 || v.Tags == nil {
			t.Errorf("seed %d: %q: %v", seed, text, err)
		}
		t.Logf("seed %d: %s", seed, text)
	}
	// Batch invariance: the same seeds together.
	done := make(chan [2]string, 6)
	for seed := uint64(1); seed <= 6; seed++ {
		go func() {
			temp := float32(0.8)
			if seed == 1 {
				temp = 0
			}
			text, _ := gen(seed, temp)
			done <- [2]string{alone[seed], text}
		}()
	}
	for i := 0; i < 6; i++ {
		p := <-done
		if p[0] != p[1] {
			t.Errorf("batched %q, alone %q", p[1], p[0])
		}
	}
	// A grammar that allows nothing (stories260K has a token for every
	// byte, so nothing else is out of reach) fails the request.
	stuck, err := grammar.Compile(`root ::= [] "x"`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Generate(context.Background(), "Once", engine.GenerateOptions{MaxTokens: 5, Grammar: stuck}, nil)
	if !errors.Is(err, engine.ErrGrammarStuck) {
		t.Errorf("a grammar that allows nothing: %v", err)
	}
	if text, _ := gen(1, 0); text != alone[1] {
		t.Errorf("after the stuck grammar: %q", text)
	}
}
