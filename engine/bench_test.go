package engine

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
)

// benchModel opens $SHIMMER_BENCH_MODEL (e.g. a file written by
// internal/tools/benchmodel) or skips.
func benchModel(b *testing.B) *BenchModel {
	path := os.Getenv("SHIMMER_BENCH_MODEL")
	if path == "" {
		b.Skip("set SHIMMER_BENCH_MODEL to a GGUF file")
	}
	m, err := LoadBench(path, 2)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkPrefill evaluates a 512-token prompt per iteration:
//
//	SHIMMER_BENCH_MODEL=/work/bench-models/tinyllama-1.1b-Q4_0.gguf \
//	  go test ./engine -run - -bench Prefill -benchtime 3x -cpuprofile pp.prof
func BenchmarkPrefill(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Bench(m.Model, m.Pool, BenchOptions{Prompt: 512, Reps: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode generates 64 tokens per iteration.
func BenchmarkDecode(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Bench(m.Model, m.Pool, BenchOptions{Gen: 64, Reps: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeLoRA compares decode with and without the adapter
// $SHIMMER_BENCH_LORA (a rank-16 one on every matrix: benchmodel
// -lora-rank 16): two sequences on two states of one model, one with the
// adapter at scale 1 and one without, step in turn, token by token, so
// the machine's drift (large on a shared VM) hits both alike. It reports
// both speeds and their ratio:
//
//	SHIMMER_BENCH_MODEL=/work/bench-models/tinyllama-1.1b-Q4_0.gguf \
//	SHIMMER_BENCH_LORA=/work/bench-models/tinyllama-1.1b-lora-r16-F16.gguf \
//	  go test ./engine -run - -bench DecodeLoRA -benchtime 128x
func BenchmarkDecodeLoRA(b *testing.B) {
	path := os.Getenv("SHIMMER_BENCH_LORA")
	if path == "" {
		b.Skip("set SHIMMER_BENCH_LORA to a LoRA adapter of SHIMMER_BENCH_MODEL")
	}
	m := benchModel(b)
	defer m.Close()
	if err := m.AddLoRA([]LoRA{{Path: path, Scale: 1}}); err != nil {
		b.Fatal(err)
	}
	h := m.Model.Hyper()
	ctx := b.N + 2
	var states [2]*model.State
	for i := range states {
		cache, err := model.NewKVCache(h, 1, ctx, 1, model.CacheTypes{K: gguf.TypeF16, V: gguf.TypeF16})
		if err != nil {
			b.Fatal(err)
		}
		if states[i], err = model.NewState(h, m.Pool, cache, 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := states[1].SetLoRA(m.LoRA); err != nil {
		b.Fatal(err)
	}
	states[1].SetSequenceLoRA(0, m.LoRAScales)
	logits := make([]float32, h.Vocab)
	var batch model.Batch
	step := func(st *model.State, pos int) time.Duration {
		batch.Reset()
		batch.Add(int32(1+pos%100), int32(pos), 0, true)
		t0 := time.Now()
		if err := m.Model.Forward(st, &batch, logits); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	step(states[0], 0) // repacks the weights
	step(states[1], 0)
	b.ResetTimer()
	var took [2]time.Duration
	for i := 0; i < b.N; i++ {
		for s := range states {
			took[s] += step(states[s], i+1)
		}
	}
	b.ReportMetric(float64(b.N)/took[0].Seconds(), "base-tok/s")
	b.ReportMetric(float64(b.N)/took[1].Seconds(), "lora-tok/s")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "lora/base")
}

// TestDecodeAllocs proves that a steady-state decode step (one token for
// each of several sequences) allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	for _, name := range []string{"stories260K-Q4_0", "stories260K-Q8_0", "tiny-qmatrix-F16", "tiny-qwen2", "tiny-qwen3moe-Q8_0", "tiny-gptoss-MXFP4_MOE", "tiny-llama"} {
		t.Run(name, func(t *testing.T) {
			m, err := LoadBench(testdata.Path(t, "models", name+".gguf"), 2)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			h := m.Model.Hyper()
			const seqs = 3
			cache, err := model.NewKVCache(h, seqs, 64, 8, model.CacheTypes{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := model.NewState(h, m.Pool, cache, 8)
			if err != nil {
				t.Fatal(err)
			}
			logits := make([]float32, 8*h.Vocab)
			var b model.Batch
			b.Tokens, b.Pos, b.Seq, b.Logits = make([]int32, 0, 8), make([]int32, 0, 8), make([]int32, 0, 8), make([]bool, 0, 8)
			pos := 0
			step := func() {
				b.Reset()
				for q := 0; q < seqs; q++ {
					b.Add(int32(5+q+pos%7), int32(pos), int32(q), true)
				}
				if err := m.Model.Forward(st, &b, logits); err != nil {
					t.Fatal(err)
				}
				pos++
			}
			if strings.HasPrefix(name, "tiny-llama") {
				// With an adapter on: the low-rank products allocate
				// nothing either.
				if err := m.AddLoRA([]LoRA{{Path: testdata.Path(t, "models", "tiny-llama-lora.gguf"), Scale: 1}}); err != nil {
					t.Fatal(err)
				}
				if err := st.SetLoRA(m.LoRA); err != nil {
					t.Fatal(err)
				}
				for q := 0; q < seqs; q++ {
					st.SetSequenceLoRA(q, []float32{float32(q)})
				}
			}
			step() // first use: weights are repacked
			if n := testing.AllocsPerRun(20, step); n != 0 {
				t.Fatalf("decode step allocates %v times", n)
			}
		})
	}
}

// BenchmarkParallel decodes 8 sequences together (32 steps per iteration).
func BenchmarkParallel(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Bench(m.Model, m.Pool, BenchOptions{Prompt: 128, Gen: 64, Parallel: 8, Reps: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// halfCache is shimmer bench's default KV cache (BenchOptions' is F32).
var halfCache = model.CacheTypes{K: gguf.TypeF16, V: gguf.TypeF16}

// BenchmarkDecodeDepth generates 16 tokens after 2048 in the context, where
// attention weighs as much as the weights, with the F16 cache:
//
//	SHIMMER_BENCH_MODEL=/work/bench-models/tinyllama-1.1b-Q4_0.gguf \
//	  go test ./engine -run - -bench DecodeDepth -benchtime 2x -cpuprofile tg.prof
func BenchmarkDecodeDepth(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Bench(m.Model, m.Pool, BenchOptions{Gen: 16, Depth: 2048, Reps: 1, CacheTypes: halfCache}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrefillDepth evaluates a 512-token prompt after 3072 in the
// context (pp512@d3072; the untimed 3072 are in a profile too), with the
// F16 cache.
func BenchmarkPrefillDepth(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		r, err := Bench(m.Model, m.Pool, BenchOptions{Prompt: 512, Depth: 3072, Reps: 1, CacheTypes: halfCache})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r[0].Mean, "tokens/s")
	}
}
