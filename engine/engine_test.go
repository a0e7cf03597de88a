package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func TestMain(m *testing.M) {
	// Every test here runs a model from the reference data.
	testdata.Require("engine")
	os.Exit(m.Run())
}

func load(t testing.TB, name string, opts engine.Options) *engine.Engine {
	t.Helper()
	e, err := engine.Load(testdata.Path(t, "models", name+".gguf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// The text cases of the reference: greedy generation from a text prompt
// gives exactly llama.cpp's ids and text.
func TestGreedyTextMatchesReference(t *testing.T) {
	for _, m := range []string{"stories260K", "stories260K-Q8_0", "stories260K-Q4_0"} {
		e := load(t, m, engine.Options{Threads: 2})
		for _, c := range []string{"text-once", "text-lily", "text-dog"} {
			ref := testdata.LoadReference(t, m+"."+c)
			if got := e.Tokenizer().Encode(ref.PromptText, true, true); fmt.Sprint(got) != fmt.Sprint(ref.PromptIDs) {
				t.Errorf("%s %s: prompt ids %v, reference %v", m, c, got, ref.PromptIDs)
			}
			var text strings.Builder
			var ids []int32
			res, err := e.Generate(context.Background(), ref.PromptText, engine.GenerateOptions{MaxTokens: ref.NGen},
				func(tok engine.Token) error {
					text.WriteString(tok.Text)
					ids = append(ids, tok.ID)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids) != fmt.Sprint(ref.GreedyIDs) {
				t.Errorf("%s %s: ids\n got %v\nwant %v", m, c, ids, ref.GreedyIDs)
			}
			if text.String() != ref.GreedyText {
				t.Errorf("%s %s: text\n got %q\nwant %q", m, c, text.String(), ref.GreedyText)
			}
			if res.Tokens != ref.NGen || res.StopReason != engine.StopLength {
				t.Errorf("%s %s: %d tokens, stop %s", m, c, res.Tokens, res.StopReason)
			}
		}
	}
}

// Logits through the engine (prompt evaluated in chunks, then decode) match
// the reference, and the greedy continuation is the reference's.
func TestEngineLogits(t *testing.T) {
	ref := testdata.LoadReference(t, "stories260K.ids")
	e := load(t, "stories260K", engine.Options{Threads: 2, Context: 64})
	rows := make([][]float32, len(ref.PromptIDs)+len(ref.GreedyIDs))
	var gen []int32
	_, err := e.GenerateTokens(context.Background(), ref.PromptIDs, engine.GenerateOptions{MaxTokens: ref.NGen + 1, IgnoreEOG: true,
		OnLogits: func(pos int, l []float32) { rows[pos] = append([]float32(nil), l...) }},
		func(tok engine.Token) error { gen = append(gen, tok.ID); return nil })
	if err != nil {
		t.Fatal(err)
	}
	np := len(ref.PromptIDs)
	if d := testdata.MaxAbsDiff(rows[:np], ref.Logits); d > 1e-3 {
		t.Errorf("prompt logits differ by %g", d)
	}
	if d := testdata.MaxAbsDiff(rows[np:], ref.GenLogits); d > 1e-3 {
		t.Errorf("generation logits differ by %g", d)
	}
	if fmt.Sprint(gen[:ref.NGen]) != fmt.Sprint(ref.GreedyIDs) {
		t.Errorf("greedy ids %v, reference %v", gen, ref.GreedyIDs)
	}
}

// A request's tokens do not depend on which others share its batches.
func TestBatchInvariance(t *testing.T) {
	prompts := []string{"Once upon a time", "The little dog was", "Lily and Tom went to the park. They", "One day", "The sun"}
	opts := engine.GenerateOptions{MaxTokens: 24, SampleOptions: engine.SampleOptions{Temperature: 0.9, TopK: 40, TopP: 0.95, Seed: 7}}
	gen := func(e *engine.Engine, p string) string {
		var b strings.Builder
		if _, err := e.Generate(context.Background(), p, opts, func(tok engine.Token) error { b.WriteString(tok.Text); return nil }); err != nil {
			t.Error(err)
		}
		return b.String()
	}
	solo := load(t, "stories260K-Q4_0", engine.Options{Threads: 2})
	want := map[string]string{}
	for _, p := range prompts {
		want[p] = gen(solo, p)
	}
	many := load(t, "stories260K-Q4_0", engine.Options{Threads: 2, Sequences: 3})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]string{}
	for _, p := range prompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := gen(many, p)
			mu.Lock()
			got[p] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, p := range prompts {
		if got[p] != want[p] {
			t.Errorf("%q batched:\n%q\nalone:\n%q", p, got[p], want[p])
		}
	}
}

func TestSameSeedSameText(t *testing.T) {
	e := load(t, "stories260K", engine.Options{Threads: 1})
	run := func(seed uint64) string {
		var b strings.Builder
		o := engine.GenerateOptions{MaxTokens: 40, SampleOptions: engine.DefaultSampleOptions()}
		o.Seed = seed
		if _, err := e.Generate(context.Background(), "Once upon a time", o, func(tok engine.Token) error { b.WriteString(tok.Text); return nil }); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b, c := run(1), run(1), run(2)
	if a != b {
		t.Errorf("seed 1 gave two texts:\n%q\n%q", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 gave the same text %q", a)
	}
}

func TestPromptTooLong(t *testing.T) {
	e := load(t, "stories260K", engine.Options{Context: 16})
	// Longer than 16 tokens by its length alone: refused before tokenizing.
	_, err := e.Generate(context.Background(), strings.Repeat("Once upon a time ", 20), engine.GenerateOptions{MaxTokens: 4}, nil)
	var ce *engine.ContextError
	if !errors.As(err, &ce) || !ce.AtLeast || ce.Context != 16 || ce.Tokens <= 16 || !strings.Contains(err.Error(), "context of 16") {
		t.Fatalf("error %v", err)
	}
	// Short enough to tokenize, too long once tokenized: the exact count.
	text := strings.Repeat("Once upon a time ", 4)
	n := len(e.Tokenizer().Encode(text, true, true))
	_, err = e.Generate(context.Background(), text, engine.GenerateOptions{MaxTokens: 4}, nil)
	if !errors.As(err, &ce) || ce.AtLeast || ce.Tokens != n || n <= 16 {
		t.Fatalf("%d-token prompt: error %v", n, err)
	}
}

// Generation stops at an end-of-generation token (not emitted), never
// draws one with IgnoreEOG, and stops at a full context, as llama.cpp's
// greedy ids say: a copy of stories260K whose EOS is a token the
// reference continuation contains stops right before its first
// occurrence, and with a context of 16 the text-once prompt (5 tokens)
// gets the first 11 reference tokens (prompt and completion fill the
// context, as llama-server's and OpenAI's context length count them).
func TestStopAtEOGAndContext(t *testing.T) {
	ref := testdata.LoadReference(t, "stories260K.text-once")
	eos := ref.GreedyIDs[6]
	first := slices.Index(ref.GreedyIDs, eos)
	path := filepath.Join(t.TempDir(), "eos.gguf")
	src, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter()
	for _, kv := range src.KV {
		w.Set(kv.Key, kv.Value)
	}
	w.Set("tokenizer.ggml.eos_token_id", uint32(eos))
	for _, ti := range src.Tensors {
		w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data)
	}
	out, _ := os.Create(path)
	if _, err := w.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	src.Close()
	e, err := engine.Load(path, engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt := e.Tokenizer().Encode(ref.PromptText, true, true)
	gen := func(e *engine.Engine, o engine.GenerateOptions) ([]int32, engine.Result) {
		return generateIDs(t, e, prompt, o)
	}
	ids, res := gen(e, engine.GenerateOptions{MaxTokens: ref.NGen})
	if res.StopReason != engine.StopEOG || !slices.Equal(ids, ref.GreedyIDs[:first]) || res.Tokens != first {
		t.Errorf("EOS %d: stop %s after %d tokens %v, expected eog after %v", eos, res.StopReason, res.Tokens, ids, ref.GreedyIDs[:first])
	}
	// IgnoreEOG bans the end-of-generation tokens, as llama.cpp's
	// ignore_eos: the text is the reference's up to the EOS, and then
	// goes on without it.
	ids, res = gen(e, engine.GenerateOptions{MaxTokens: ref.NGen, IgnoreEOG: true})
	if res.StopReason != engine.StopLength || len(ids) != ref.NGen || !slices.Equal(ids[:first], ref.GreedyIDs[:first]) || slices.Contains(ids, eos) {
		t.Errorf("ignoring EOG: stop %s, ids %v", res.StopReason, ids)
	}
	small := load(t, "stories260K", engine.Options{Context: 16})
	ids, res = gen(small, engine.GenerateOptions{MaxTokens: 100, IgnoreEOG: true})
	if res.StopReason != engine.StopContext || !slices.Equal(ids, ref.GreedyIDs[:16-len(ref.PromptIDs)]) {
		t.Errorf("context 16: stop %s after %v", res.StopReason, ids)
	}
}

func TestCancel(t *testing.T) {
	e := load(t, "stories260K", engine.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	res, err := e.Generate(ctx, "Once upon a time", engine.GenerateOptions{IgnoreEOG: true}, func(engine.Token) error {
		n++
		if n == 5 {
			cancel()
		}
		return nil
	})
	if err == nil || res.StopReason != engine.StopCancelled || n > 6 {
		t.Errorf("after cancel: %d tokens, stop %s, err %v", n, res.StopReason, err)
	}
	// The sequence is free again.
	if _, err := e.Generate(context.Background(), "Once", engine.GenerateOptions{MaxTokens: 2}, nil); err != nil {
		t.Error(err)
	}
}

func TestStopString(t *testing.T) {
	e := load(t, "stories260K", engine.Options{})
	ref := testdata.LoadReference(t, "stories260K.text-once")
	var b strings.Builder
	res, err := e.Generate(context.Background(), ref.PromptText, engine.GenerateOptions{MaxTokens: 32, Stop: []string{"Lily"}},
		func(tok engine.Token) error { b.WriteString(tok.Text); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := ref.GreedyText[:strings.Index(ref.GreedyText, "Lily")]
	if b.String() != want || res.StopReason != engine.StopString {
		t.Errorf("got %q (%s), want %q", b.String(), res.StopReason, want)
	}
}

// Free-running greedy generation (the engine's own prompt batching and
// decode steps) gives llama.cpp's greedy ids on every model, up to the
// first step whose reference margin (top-1 minus top-2 logit) is within
// what shimmer's logits may differ by for that weight kind (reftest's
// thresholds: 1e-4 F32 and 3e-3 gemma3's GELU table, 1.5e-2 F16, 6e-2 BF16,
// 0.17 for a flipped 8-bit activation value in a quantized file; twice
// that is the margin taken). Past such a step the two sequences may
// legitimately differ; the test says which models it could therefore not
// check to the end, and fails on a first divergence at a clear margin.
func TestGreedyIDsAllModels(t *testing.T) {
	names := reftest.ModelsOf(t, "stories260K", "tiny-llama", "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-gemma3", "tiny-phi3", "tiny-qmatrix", "tiny-mixtral", "tiny-qwen3moe")
	if len(names) < 40 {
		t.Fatalf("found %d models with ids cases", len(names))
	}
	var partial []string
	for _, name := range names {
		ref := testdata.LoadReference(t, name+".ids")
		margin := 2 * greedyTolerance(t, name)
		e := load(t, name, engine.Options{Threads: 2, Context: 64})
		var got []int32
		_, err := e.GenerateTokens(context.Background(), ref.PromptIDs, engine.GenerateOptions{MaxTokens: ref.NGen, IgnoreEOG: true},
			func(tok engine.Token) error { got = append(got, tok.ID); return nil })
		e.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Up to the first difference both sequences saw the same tokens,
		// so that difference is excused only by a close margin.
		for i, want := range ref.GreedyIDs {
			if got[i] == want {
				continue
			}
			if ref.GreedyMargins[i] > margin {
				t.Errorf("%s: step %d: %d, reference %d (margin %.3g > %.3g); ids %v, reference %v", name, i, got[i], want, ref.GreedyMargins[i], margin, got, ref.GreedyIDs)
			} else {
				partial = append(partial, fmt.Sprintf("%s: %d of %d steps (step %d: margin %.3g ≤ %.3g)", name, i, len(ref.GreedyIDs), i, ref.GreedyMargins[i], margin))
			}
			break
		}
	}
	t.Logf("checked %d models; %d diverged past a step too close to call, checked up to it:", len(names), len(partial))
	for _, p := range partial {
		t.Log("  " + p)
	}
}

// greedyTolerance is how far shimmer's logits may be from llama.cpp's for
// the model's weight kind (reftest.CheckModel's thresholds).
func greedyTolerance(t *testing.T, name string) float64 {
	f, err := gguf.Open(testdata.Path(t, "models", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tol := reftest.F32Tol
	if reftest.Family(name) == "tiny-gemma3" {
		tol = reftest.GELUTol
	}
	for _, ti := range f.Tensors {
		switch ti.Type {
		case gguf.TypeF32:
		case gguf.TypeF16:
			tol = max(tol, reftest.F16Tol)
		case gguf.TypeBF16:
			tol = max(tol, reftest.BF16Tol)
		default:
			return 0.17
		}
	}
	return tol
}

// A KV cache that does not fit the memory budget (or the machine) is
// refused at load, before it is allocated, with a MemoryError.
func TestMemoryBudget(t *testing.T) {
	path := testdata.Path(t, "models", "stories260K.gguf")
	_, err := engine.Load(path, engine.Options{Context: 4096, Sequences: 4, Memory: 8 << 20})
	var me *engine.MemoryError
	if !errors.As(err, &me) || !me.Budget || me.Need <= 8<<20 || !strings.Contains(err.Error(), "memory budget") {
		t.Fatalf("4096 × 4 in 8 MiB: %v", err)
	}
	// stories260K: 5 layers × (32+32) floats of K and V a position.
	if want := int64(4 * 4096 * 5 * 64 * 4); me.Cache < want || me.Cache > want+1<<20 {
		t.Errorf("cache of %d bytes, expected %d plus scratch", me.Cache, want)
	}
	_, err = engine.Load(path, engine.Options{Context: 1 << 24, Sequences: 1024})
	if err == nil {
		t.Fatal("2^24 × 1024 loaded")
	}
	e, err := engine.Load(path, engine.Options{Context: 256, Sequences: 2, Memory: 8 << 20})
	if err != nil {
		t.Fatalf("256 × 2 in 8 MiB: %v", err)
	}
	e.Close()
}

// With ContextShift a full context makes room instead of stopping: the
// BOS stays, half of the rest goes, and the text goes on as a fresh
// generation from the kept tokens would (the kept sequence, evaluated in
// a context of its own, gives the same next tokens).
func TestContextShift(t *testing.T) {
	const ctx = 32
	e := load(t, "stories260K", engine.Options{Context: ctx})
	prompt := e.Tokenizer().Encode("Once upon a time", true, true)
	gen := func(e *engine.Engine, prompt []int32, o engine.GenerateOptions) ([]int32, engine.Result) {
		return generateIDs(t, e, prompt, o)
	}
	ids, res := gen(e, prompt, engine.GenerateOptions{MaxTokens: 60, IgnoreEOG: true, ContextShift: true})
	if len(ids) != 60 || res.StopReason != engine.StopLength || res.ContextShifts < 2 {
		t.Fatalf("%d tokens, stop %s, %d shifts", len(ids), res.StopReason, res.ContextShifts)
	}
	// The first shift comes when prompt and completion fill the context:
	// the sequence holds ctx-1 tokens and the last one drawn waits.
	first := ctx - len(prompt)
	held := append(slices.Clone(prompt), ids[:first-1]...)
	discard := (len(held) - 1) / 2
	kept := append(append([]int32{held[0]}, held[1+discard:]...), ids[first-1])
	big := load(t, "stories260K", engine.Options{Context: 128})
	next := ctx - len(kept) // tokens until the second shift
	want, _ := gen(big, kept, engine.GenerateOptions{MaxTokens: next, IgnoreEOG: true})
	if !slices.Equal(ids[first:first+next], want) {
		t.Errorf("after the shift %v, a fresh generation from the kept tokens gives %v", ids[first:first+next], want)
	}
	// Without it the same request stops at the full context.
	ids, res = gen(e, prompt, engine.GenerateOptions{MaxTokens: 60, IgnoreEOG: true})
	if len(ids) != first || res.StopReason != engine.StopContext {
		t.Errorf("no shift: %d tokens, stop %s", len(ids), res.StopReason)
	}
}

// generateIDs generates from prompt and returns the ids drawn.
func generateIDs(t *testing.T, e *engine.Engine, prompt []int32, o engine.GenerateOptions) ([]int32, engine.Result) {
	t.Helper()
	var ids []int32
	res, err := e.GenerateTokens(context.Background(), prompt, o, func(tok engine.Token) error {
		if tok.ID >= 0 {
			ids = append(ids, tok.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, res
}
