package engine

import (
	"os"
	"testing"

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

// TestDecodeAllocs proves that a steady-state decode step (one token for
// each of several sequences) allocates nothing.
func TestDecodeAllocs(t *testing.T) {
	for _, name := range []string{"stories260K-Q4_0", "stories260K-Q8_0", "tiny-qmatrix-F16", "tiny-qwen2", "tiny-qwen3moe-Q8_0", "tiny-gptoss-MXFP4_MOE"} {
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

// BenchmarkDecodeDepth generates 16 tokens after 2048 in the context, where
// attention weighs as much as the weights:
//
//	SHIMMER_BENCH_MODEL=/work/bench-models/tinyllama-1.1b-Q4_0.gguf \
//	  go test ./engine -run - -bench DecodeDepth -benchtime 2x -cpuprofile tg.prof
func BenchmarkDecodeDepth(b *testing.B) {
	m := benchModel(b)
	defer m.Close()
	for i := 0; i < b.N; i++ {
		if _, err := Bench(m.Model, m.Pool, BenchOptions{Gen: 16, Depth: 2048, Reps: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
