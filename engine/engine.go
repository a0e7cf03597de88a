// Package engine runs a GGUF language model: it loads the file (memory
// mapped), tokenizes, schedules sequences through batched forward passes
// over a KV cache sized up front, and samples tokens.
//
// An Engine is safe for concurrent use: Generate calls from many
// goroutines are batched together, up to Options.Sequences at a time.
//
//	e, err := engine.Load("model.gguf", engine.Options{})
//	if err != nil { ... }
//	defer e.Close()
//	res, err := e.Generate(ctx, "Once upon a time", engine.GenerateOptions{MaxTokens: 32},
//		func(t engine.Token) error { fmt.Print(t.Text); return nil })
package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/model"
	"github.com/shimmer-llm/shimmer/sampling"
	"github.com/shimmer-llm/shimmer/tokenizer"

	// The supported architectures register themselves.
	_ "github.com/shimmer-llm/shimmer/model/archs"
)

// Options configure Load. Zero values pick the defaults.
type Options struct {
	// Threads used for computation (default: the number of CPUs).
	Threads int
	// Context is the number of positions each sequence can hold (default:
	// the model's training context, capped at 4096).
	Context int
	// Sequences is the number of sequences that can run at once, each with
	// its own KV cache range (default 1).
	Sequences int
	// BatchSize is the most tokens one forward pass evaluates (default 512).
	BatchSize int
	// QueueSize bounds the requests waiting for a free sequence (default
	// 64); Generate fails with ErrBusy beyond it.
	QueueSize int
	// Memory bounds the bytes Load may commit to the model file and the KV
	// cache (default: the machine's physical memory); Load fails with a
	// MemoryError past it instead of the process dying later.
	Memory int64
	// CacheTypes are the KV cache's element types (default F32; F16 halves
	// the cache, rounding each key and value to half precision).
	CacheTypes model.CacheTypes
	// Pooling makes the model an embedding model with this pooling (as
	// llama-server's --pooling): a chat model then embeds too, and an
	// embedding model pools this way instead of its own. nil: the model's
	// own <arch>.pooling_type, if any.
	Pooling *model.Pooling
	// LoRA are adapters applied on top of the model (its weights stay
	// as they are): each with the scale requests get unless they give
	// their own (GenerateOptions.LoRA).
	LoRA []LoRA
	// F16AsBF16 multiplies F16 weight matrices as BF16 where the CPU has
	// BF16 dot products (AVX512_BF16) and no F16 arithmetic: prompts run
	// about twice as fast, at a cost in accuracy (each weight and
	// activation rounded to BF16, 8 significant bits instead of 11; see
	// compute.Matrix.MultiplyAsBF16). Off by default.
	F16AsBF16 bool
}

// MemoryError reports a KV cache (with the model) larger than the memory.
type MemoryError struct {
	Need, Cache, Model, Have int64
	Context, Sequences       int
	Budget                   bool // Have is Options.Memory, not the physical memory
}

func (e *MemoryError) Error() string {
	what := fmt.Sprintf("the machine's %s of memory", humanBytes(e.Have))
	if e.Budget {
		what = "the memory budget of " + humanBytes(e.Have)
	}
	return fmt.Sprintf("engine: the KV cache for a context of %d × %d sequences needs %s (with the %s model: %s), more than %s; lower the context (-c) or the sequences (--parallel)",
		e.Context, e.Sequences, humanBytes(e.Cache), humanBytes(e.Model), humanBytes(e.Need), what)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// ErrBusy is returned when every sequence is busy and the queue is full.
var ErrBusy = errors.New("engine: all sequences are busy and the queue is full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("engine: closed")

// Engine is a loaded model ready to generate.
type Engine struct {
	vocabCache // the vocabulary trie for grammars, built on first use
	// dryDefault are DRY's default sequence breakers over the vocabulary,
	// processed on first use.
	dryOnce    sync.Once
	dryDefault sampling.Breakers
	file       *gguf.File
	asBF16     int // matrices Options.F16AsBF16 changed
	model      model.Model
	tok        *tokenizer.Tokenizer
	pool       *compute.Pool
	cache      *model.KVCache
	state      *model.State
	opts       Options
	sched      *scheduler
	adapters   []*lora.Adapter
	loraSet    *model.Adapters
	loraMu     sync.Mutex
	loraScale  []float32 // the default scale of each adapter

	// LoadTime is how long Load took.
	LoadTime time.Duration
}

// Load opens a GGUF model and prepares it to run.
func Load(path string, opts Options) (*Engine, error) {
	start := time.Now()
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	return loadFile(f, opts, start)
}

// LoadBytes is Load for a GGUF file held in memory (such as the built-in
// demo model); the engine keeps data.
func LoadBytes(data []byte, opts Options) (*Engine, error) {
	start := time.Now()
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, err
	}
	return loadFile(f, opts, start)
}

// loadFile prepares the parsed file f, closing it on failure.
func loadFile(f *gguf.File, opts Options, start time.Time) (*Engine, error) {
	e, err := newEngine(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	e.LoadTime = time.Since(start)
	return e, nil
}

func newEngine(f *gguf.File, opts Options) (*Engine, error) {
	if err := model.CheckTypes(f); err != nil {
		return nil, err
	}
	m, err := model.New(f)
	if err != nil {
		return nil, err
	}
	asBF16 := 0
	if opts.F16AsBF16 {
		asBF16 = model.MultiplyF16AsBF16(m)
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		return nil, err
	}
	h := m.Hyper()
	if tok.NumTokens() > h.Vocab {
		return nil, fmt.Errorf("engine: the tokenizer has %d tokens but the model only %d embeddings", tok.NumTokens(), h.Vocab)
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.NumCPU()
	}
	if opts.Context <= 0 {
		opts.Context = min(h.CtxTrain, 4096)
		if opts.Context <= 0 {
			opts.Context = 4096
		}
	}
	if opts.Sequences <= 0 {
		opts.Sequences = 1
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	if opts.Context > 1<<24 || opts.Sequences > 1024 || opts.BatchSize > 1<<16 {
		return nil, fmt.Errorf("engine: context %d × %d sequences, batch %d: too large", opts.Context, opts.Sequences, opts.BatchSize)
	}
	if p := opts.Pooling; p != nil {
		em, ok := m.(model.Embedder)
		switch {
		case *p < model.PoolNone || *p > model.PoolRank:
			return nil, fmt.Errorf("engine: pooling %d is not a pooling type", int(*p))
		case !ok:
			return nil, fmt.Errorf("engine: the %s model cannot embed", h.Arch)
		case *p == model.PoolRank && em.OutputDim(model.PoolRank) == 0:
			return nil, fmt.Errorf("engine: rank pooling needs a classifier head, which the model has not")
		}
	}
	encoder := model.IsEncoder(m)
	if err := checkMemory(f, h, opts, encoder); err != nil {
		return nil, err
	}
	ads, set, err := openAdapters(f, m, opts.LoRA)
	if err != nil {
		return nil, err
	}
	e := &Engine{file: f, model: m, tok: tok, opts: opts, adapters: ads, loraSet: set, asBF16: asBF16}
	for _, l := range opts.LoRA {
		e.loraScale = append(e.loraScale, l.Scale)
	}
	closeAdapters := func() {
		for _, a := range ads {
			a.Close()
		}
	}
	e.pool = compute.NewPool(opts.Threads)
	// An encoder generates nothing: it keeps no KV cache (each Embed
	// call has its own scratch), so the cache and state are one position.
	seqs, ctx, batch := opts.Sequences, opts.Context, opts.BatchSize
	if encoder {
		seqs, ctx, batch = 1, 1, 1
	}
	if e.cache, err = model.NewKVCache(h, seqs, ctx, batch, opts.CacheTypes); err != nil {
		e.pool.Close()
		closeAdapters()
		return nil, err
	}
	if e.state, err = model.NewState(h, e.pool, e.cache, batch); err == nil {
		err = e.state.SetLoRA(set)
	}
	if err != nil {
		e.pool.Close()
		closeAdapters()
		return nil, err
	}
	model.PrepackExperts(m, e.pool)
	e.sched = newScheduler(e)
	go e.sched.loop()
	return e, nil
}

// F16AsBF16 returns how many F16 matrices multiply as BF16
// (Options.F16AsBF16): 0 without the option, without F16 matrices or on a
// CPU without BF16 dot products.
func (e *Engine) F16AsBF16() int { return e.asBF16 }

// Close stops the engine, cancelling running requests, and unmaps the file.
func (e *Engine) Close() error {
	e.sched.stop()
	e.pool.Close()
	for _, a := range e.adapters {
		a.Close()
	}
	return e.file.Close()
}

// Tokenizer returns the model's tokenizer.
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// Hyper returns the model's hyperparameters.
func (e *Engine) Hyper() *model.Hyper { return e.model.Hyper() }

// File returns the parsed GGUF file (metadata and tensor infos).
func (e *Engine) File() *gguf.File { return e.file }

// Options returns the options in effect (defaults filled in).
func (e *Engine) Options() Options { return e.opts }

// KVCacheBytes returns the memory held by the KV cache.
func (e *Engine) KVCacheBytes() int64 { return e.cache.Bytes() }

// checkMemory refuses a KV cache that, with the model file, cannot fit the
// memory budget or the physical memory, before allocating it.
func checkMemory(f *gguf.File, h *model.Hyper, opts Options, encoder bool) error {
	var cache int64
	if !encoder {
		cache = model.KVCacheBytes(h, opts.Sequences, opts.Context, opts.BatchSize, opts.CacheTypes)
		// The scratch of a forward pass: per thread the attention scores of
		// a query group.
		cache += int64(opts.Threads) * int64(opts.Context) * 4 * int64(max(1, h.Heads/max(1, h.KVHeads)))
	}
	need := cache + int64(f.Size)
	have, budget := opts.Memory, opts.Memory > 0
	if !budget {
		have = physicalMemory()
	}
	if have > 0 && need > have {
		return &MemoryError{Need: need, Cache: cache, Model: int64(f.Size), Have: have, Context: opts.Context, Sequences: opts.Sequences, Budget: budget}
	}
	return nil
}
