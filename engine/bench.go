package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/model"
)

// BenchOptions configure Bench, after llama-bench: a prompt-processing test
// (ppN: N tokens in one batch from an empty cache) and a text-generation
// test (tgN: N tokens one at a time from an empty cache), each repeated.
type BenchOptions struct {
	Prompt int // tokens of the pp test (0: skip it)
	Gen    int // tokens of the tg test (0: skip it)
	Reps   int // repetitions of each test (default 5)
	// Parallel > 1 adds a test of Parallel sequences decoding together
	// (one batch entry each per step, as llama-batched-bench's S_TG):
	// each sequence first gets a Prompt-token prompt (not timed), then Gen
	// steps are timed and the aggregate tokens/s reported.
	Parallel int
	// Depth is how many tokens each sequence's cache already holds when a
	// test starts (llama-bench's -d): they are evaluated once, untimed,
	// and the tests run at positions from Depth on; their names get
	// "@dN" ("pp512@d4096").
	Depth int
	// CacheTypes are the KV cache's element types (default F32).
	CacheTypes model.CacheTypes
	// LoRA are adapters bound to the model (nil: none), every sequence
	// using them at LoRAScales.
	LoRA       *model.Adapters
	LoRAScales []float32
	// Progress, when set, is told about each finished repetition.
	Progress func(test string, rep int, tokensPerSecond float64)
}

// BenchResult is one test's outcome.
type BenchResult struct {
	Test    string    `json:"test"` // "pp512", "tg128", "tg128x8"
	Tokens  int       `json:"n_tokens"`
	Mean    float64   `json:"tokens_per_second"`
	StdDev  float64   `json:"stddev"`
	Samples []float64 `json:"samples_ts"`
	// BandwidthFraction, for decode tests when the read bandwidth was
	// measured: the weight bytes one token reads × tokens/s ÷ bandwidth.
	BandwidthFraction float64 `json:"bandwidth_fraction,omitempty"`
}

// Bench measures prompt processing and generation speed with random tokens
// on a fresh KV cache (load time excluded). It must not run while Generate
// calls are in flight: it uses the engine's thread pool with its own cache.
func (e *Engine) Bench(o BenchOptions) ([]BenchResult, error) {
	if o.LoRA == nil && e.loraSet != nil {
		o.LoRA, o.LoRAScales = e.loraSet, e.defaultScales()
	}
	return Bench(e.model, e.pool, o)
}

// BenchModel is a loaded model for benchmarks: no tokenizer is needed
// (the tests feed random token ids).
type BenchModel struct {
	File  *gguf.File
	Model model.Model
	Pool  *compute.Pool
	// LoadTime is how long opening and building the model took.
	LoadTime time.Duration
	// LoRA and LoRAScales: the adapters AddLoRA bound, for BenchOptions.
	LoRA       *model.Adapters
	LoRAScales []float32
	adapters   []*lora.Adapter
}

// AddLoRA opens the adapters, checks and binds them to the model, for
// benchmarks with the adapters applied at their scales.
func (b *BenchModel) AddLoRA(specs []LoRA) error {
	ads, set, err := openAdapters(b.File, b.Model, specs)
	if err != nil {
		return err
	}
	b.adapters, b.LoRA = ads, set
	b.LoRAScales = nil
	for _, sp := range specs {
		b.LoRAScales = append(b.LoRAScales, sp.Scale)
	}
	return nil
}

// LoadBench maps the model at path and starts a pool of threads (≤ 0: one
// per CPU) for Bench.
func LoadBench(path string, threads int) (*BenchModel, error) {
	t0 := time.Now()
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	if err := model.CheckTypes(f); err != nil {
		f.Close()
		return nil, err
	}
	m, err := model.New(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	pool := compute.NewPool(threads)
	model.PrepackExperts(m, pool)
	return &BenchModel{File: f, Model: m, Pool: pool, LoadTime: time.Since(t0)}, nil
}

// MultiplyF16AsBF16 is Options.F16AsBF16 for a bench model, before its
// first forward pass; it returns how many matrices it changed.
func (b *BenchModel) MultiplyF16AsBF16() int { return model.MultiplyF16AsBF16(b.Model) }

// Close stops the pool and unmaps the file.
func (b *BenchModel) Close() error {
	b.Pool.Close()
	for _, a := range b.adapters {
		a.Close()
	}
	return b.File.Close()
}

// Bench runs the benchmark of BenchOptions on m with the threads of pool.
func Bench(m model.Model, pool *compute.Pool, o BenchOptions) ([]BenchResult, error) {
	if o.Reps <= 0 {
		o.Reps = 5
	}
	if o.Prompt < 0 || o.Gen < 0 || o.Parallel < 0 || o.Depth < 0 {
		return nil, fmt.Errorf("engine: negative bench size")
	}
	seqs := max(1, o.Parallel)
	ctx := o.Depth + o.Prompt + o.Gen + 1
	batch := max(o.Prompt, seqs, min(o.Depth, 512), 1)
	h := m.Hyper()
	cache, err := model.NewKVCache(h, seqs, ctx, batch, o.CacheTypes)
	if err != nil {
		return nil, err
	}
	st, err := model.NewState(h, pool, cache, batch)
	if err != nil {
		return nil, err
	}
	if o.LoRA != nil {
		if err := st.SetLoRA(o.LoRA); err != nil {
			return nil, err
		}
		for q := 0; q < seqs; q++ {
			st.SetSequenceLoRA(q, o.LoRAScales)
		}
	}
	logits := make([]float32, batch*h.Vocab)
	rng := uint64(0x9e3779b97f4a7c15)
	token := func() int32 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int32(rng % uint64(h.Vocab))
	}
	var b model.Batch
	b.Tokens = make([]int32, 0, batch)
	b.Pos = make([]int32, 0, batch)
	b.Seq = make([]int32, 0, batch)
	b.Logits = make([]bool, 0, batch)

	// prompt evaluates n tokens of sequence seq at positions [at, at+n),
	// in passes of at most batch tokens.
	prompt := func(seq, at, n int) error {
		for done := 0; done < n; {
			b.Reset()
			for p := done; p < min(n, done+batch); p++ {
				b.Add(token(), int32(at+p), int32(seq), p == n-1)
			}
			if err := m.Forward(st, &b, logits); err != nil {
				return err
			}
			done += b.Len()
		}
		return nil
	}
	// The context every test starts from: Depth tokens in each sequence,
	// evaluated once (the tests overwrite only the positions after them).
	d := o.Depth
	for q := 0; q < seqs && d > 0; q++ {
		if err := prompt(q, 0, d); err != nil {
			return nil, err
		}
	}
	suffix := ""
	if d > 0 {
		suffix = fmt.Sprintf("@d%d", d)
	}
	// decode runs n steps of one token for each of seqs sequences whose
	// caches hold start positions.
	decode := func(start, n, seqs int) error {
		for i := 0; i < n; i++ {
			b.Reset()
			for q := 0; q < seqs; q++ {
				b.Add(token(), int32(start+i), int32(q), true)
			}
			if err := m.Forward(st, &b, logits); err != nil {
				return err
			}
		}
		return nil
	}
	var out []BenchResult
	measure := func(name string, tokens int, setup, body func() error) error {
		// One untimed warm-up run, as llama-bench does.
		if err := setup(); err != nil {
			return err
		}
		if err := body(); err != nil {
			return err
		}
		r := BenchResult{Test: name, Tokens: tokens}
		for i := 0; i < o.Reps; i++ {
			if err := setup(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := body(); err != nil {
				return err
			}
			ts := float64(tokens) / time.Since(t0).Seconds()
			r.Samples = append(r.Samples, ts)
			if o.Progress != nil {
				o.Progress(name, i, ts)
			}
		}
		r.Mean, r.StdDev = meanSD(r.Samples)
		out = append(out, r)
		return nil
	}
	none := func() error { return nil }
	if o.Prompt > 0 {
		err := measure(fmt.Sprintf("pp%d%s", o.Prompt, suffix), o.Prompt, none, func() error { return prompt(0, d, o.Prompt) })
		if err != nil {
			return nil, err
		}
	}
	if o.Gen > 0 {
		err := measure(fmt.Sprintf("tg%d%s", o.Gen, suffix), o.Gen, none, func() error { return decode(d, o.Gen, 1) })
		if err != nil {
			return nil, err
		}
	}
	if o.Parallel > 1 && o.Gen > 0 {
		pp := o.Prompt
		setup := func() error {
			if pp == 0 {
				return nil
			}
			for q := 0; q < seqs; q++ {
				if err := prompt(q, d, pp); err != nil {
					return err
				}
			}
			return nil
		}
		err := measure(fmt.Sprintf("tg%dx%d%s", o.Gen, seqs, suffix), o.Gen*seqs, setup, func() error { return decode(d+pp, o.Gen, seqs) })
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1))
}
