package engine_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func loraPath(t testing.TB, name string) string { return testdata.Path(t, "models", name+".gguf") }

// run generates from ids and returns the tokens and every logits row.
func runLoRA(t *testing.T, e *engine.Engine, ids []int32, opts engine.GenerateOptions) ([]int32, [][]float32) {
	t.Helper()
	var rows [][]float32
	var toks []int32
	opts.OnLogits = func(_ int, l []float32) { rows = append(rows, slices.Clone(l)) }
	_, err := e.GenerateTokens(context.Background(), ids, opts, func(tk engine.Token) error {
		if tk.ID >= 0 {
			toks = append(toks, tk.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return toks, rows
}

// Through the engine (Options.LoRA, default and per-request scales), the
// greedy run of a lora/ case gives llama.cpp's ids, and its prompt rows
// match llama.cpp's logits (F32 adapter: within 1e-3).
func TestLoRAGreedyMatchesReference(t *testing.T) {
	ref := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@1.ids")
	half := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@0.5.ids")
	e := load(t, "tiny-llama", engine.Options{Threads: 2, LoRA: []engine.LoRA{{Path: loraPath(t, "tiny-llama-lora"), Scale: 1}}})
	for _, c := range []struct {
		ref  *testdata.Reference
		lora []engine.LoRAScale
	}{{ref, nil}, {half, []engine.LoRAScale{{ID: 0, Scale: 0.5}}}} {
		opts := engine.GenerateOptions{MaxTokens: len(c.ref.GreedyIDs), IgnoreEOG: true, LoRA: c.lora}
		toks, rows := runLoRA(t, e, c.ref.PromptIDs, opts)
		if !slices.Equal(toks, c.ref.GreedyIDs) {
			t.Errorf("scale %g: ids %v, llama.cpp %v", c.ref.AdapterScale, toks, c.ref.GreedyIDs)
		}
		if d := testdata.MaxAbsDiff(rows[:c.ref.NPrompt], c.ref.Logits); d > 1e-3 {
			t.Errorf("scale %g: prompt logits differ by %.3g", c.ref.AdapterScale, d)
		}
	}
	// Per-request scale 0 is the base model.
	base := testdata.LoadReference(t, "tiny-llama.ids")
	_, rows := runLoRA(t, e, base.PromptIDs, engine.GenerateOptions{MaxTokens: 1, LoRA: []engine.LoRAScale{}})
	if d := testdata.MaxAbsDiff(rows[:base.NPrompt], base.Logits); d > 1e-3 {
		t.Errorf("scale 0: prompt logits differ from the base model's by %.3g", d)
	}
}

// Two requests at once on one engine, one with the adapter at scale 1 and
// one without, each give exactly (tokens and logits) what they give
// alone, over several rounds (they share batches and, after the first
// round, find their own cached prefixes).
func TestLoRAConcurrentRequests(t *testing.T) {
	ref := testdata.LoadReferenceIn(t, "lora", "tiny-qwen3-lora@1.ids")
	e := load(t, "tiny-qwen3", engine.Options{Threads: 2, Sequences: 2, LoRA: []engine.LoRA{{Path: loraPath(t, "tiny-qwen3-lora"), Scale: 0}}})
	sample := engine.SampleOptions{Temperature: 0.9, TopK: 40, TopP: 0.95, Seed: 7}
	with := engine.GenerateOptions{SampleOptions: sample, MaxTokens: 24, IgnoreEOG: true, LoRA: []engine.LoRAScale{{ID: 0, Scale: 1}}}
	without := engine.GenerateOptions{SampleOptions: sample, MaxTokens: 24, IgnoreEOG: true}
	wantA, rowsA := runLoRA(t, e, ref.PromptIDs, with)
	wantB, rowsB := runLoRA(t, e, ref.PromptIDs, without)
	if slices.Equal(wantA, wantB) || testdata.MaxAbsDiff(rowsA[:1], rowsB[:1]) < 1 {
		t.Fatalf("the adapter changes nothing: %v / %v", wantA, wantB)
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		var gotA, gotB []int32
		var gA, gB [][]float32
		wg.Add(2)
		go func() { defer wg.Done(); gotA, gA = runLoRA(t, e, ref.PromptIDs, with) }()
		go func() { defer wg.Done(); gotB, gB = runLoRA(t, e, ref.PromptIDs, without) }()
		wg.Wait()
		if !slices.Equal(gotA, wantA) || testdata.MaxAbsDiff(gA, rowsA) != 0 {
			t.Errorf("round %d: with the adapter, concurrent run differs from the run alone", round)
		}
		if !slices.Equal(gotB, wantB) || testdata.MaxAbsDiff(gB, rowsB) != 0 {
			t.Errorf("round %d: without the adapter, concurrent run differs from the run alone", round)
		}
	}
}

// Default scales set on the engine apply to later requests; bad ids and
// adapters that do not fit are refused with one line.
func TestLoRAScalesAndErrors(t *testing.T) {
	e := load(t, "tiny-llama", engine.Options{Threads: 1, LoRA: []engine.LoRA{{Path: loraPath(t, "tiny-llama-lora"), Scale: 1}}})
	ads := e.Adapters()
	if len(ads) != 1 || ads[0].Scale != 1 || ads[0].Alpha != 8 || ads[0].MaxRank != 4 || ads[0].Targets != 12 {
		t.Fatalf("adapters: %+v", ads)
	}
	if err := e.SetLoRAScales([]engine.LoRAScale{{ID: 0, Scale: 0.5}}); err != nil {
		t.Fatal(err)
	}
	half := testdata.LoadReferenceIn(t, "lora", "tiny-llama-lora@0.5.ids")
	_, rows := runLoRA(t, e, half.PromptIDs, engine.GenerateOptions{MaxTokens: 1})
	if d := testdata.MaxAbsDiff(rows[:half.NPrompt], half.Logits); d > 1e-3 {
		t.Errorf("default scale 0.5: logits differ by %.3g", d)
	}
	if err := e.SetLoRAScales([]engine.LoRAScale{{ID: 3, Scale: 1}}); err == nil || !strings.Contains(err.Error(), "adapter id 3") {
		t.Errorf("bad id: %v", err)
	}
	if _, err := e.GenerateTokens(context.Background(), half.PromptIDs, engine.GenerateOptions{LoRA: []engine.LoRAScale{{ID: 1}}}, nil); err == nil {
		t.Error("request with adapter id 1 of 1 accepted")
	}
	_, err := engine.Load(testdata.Path(t, "models", "tiny-llama.gguf"), engine.Options{LoRA: []engine.LoRA{{Path: loraPath(t, "tiny-qwen3-lora"), Scale: 1}}})
	if err == nil || !strings.Contains(err.Error(), "qwen3") || strings.Contains(err.Error(), "\n") {
		t.Errorf("adapter for another architecture: %v", err)
	}
	for _, c := range []struct {
		in   string
		want engine.LoRA
	}{{"a.gguf", engine.LoRA{Path: "a.gguf", Scale: 1}}, {"a.gguf:0.25", engine.LoRA{Path: "a.gguf", Scale: 0.25}}, {"C:/x:y.gguf", engine.LoRA{Path: "C:/x:y.gguf", Scale: 1}}} {
		if got, err := engine.ParseLoRA(c.in); err != nil || got != c.want {
			t.Errorf("ParseLoRA(%q) = %+v, %v", c.in, got, err)
		}
	}
}
