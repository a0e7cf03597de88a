package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
)

// A seeded generation with llama.cpp's default sampling gives, token for
// token, what llama.cpp's default chain draws with that seed on the same
// model (stories260K, F32 KV cache, the prompt's tokens fed to the
// penalties as llama-server feeds them): testdata/seeded-stories260K.json,
// made with the reference build (testdata/README.md).
func TestSeededMatchesLlamaCpp(t *testing.T) {
	b, err := os.ReadFile("testdata/seeded-stories260K.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Model     string
		PromptIDs []int32 `json:"prompt_ids"`
		Seed      uint64
		IDs       []int32
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	e := load(t, "stories260K", engine.Options{Threads: 2, Sequences: 2})
	for _, c := range cases {
		so := engine.DefaultSampleOptions()
		so.Seed = c.Seed
		var got []int32
		_, err := e.GenerateTokens(context.Background(), c.PromptIDs, engine.GenerateOptions{SampleOptions: so, MaxTokens: len(c.IDs), IgnoreEOG: true}, func(tk engine.Token) error {
			if tk.ID >= 0 {
				got = append(got, tk.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.IDs) {
			t.Errorf("seed %d: %v\nllama.cpp: %v", c.Seed, got, c.IDs)
		}
	}
}
