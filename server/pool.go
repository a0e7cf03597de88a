package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// Model is one model a server offers: loaded on its first request, kept
// while used, unloaded after its keep-alive or to make room.
type Model struct {
	// Name is the id requests give in "model" and /v1/models lists.
	Name string
	// Load loads it (an engine and the template rendering its chats; a nil
	// template picks the model's own, as New does).
	Load func(ctx context.Context) (*engine.Engine, *chat.Template, error)
	// Size is its file's bytes; Details describe it in ollama's /api/tags
	// and /api/show (family, parameter_size, quantization_level, format).
	Size    int64
	Details ModelDetails
	// Path is the file (ollama's /api/show modelfile and /api/ps).
	Path string
	// Modified is the file's time (ollama's modified_at).
	Modified time.Time
	// Adapters name the LoRA adapters its engine loads (in the order of
	// engine.Options.LoRA): a request for "Name+ADAPTER" runs the model
	// with that adapter at scale 1, and /v1/models lists those names.
	Adapters []string
}

// ModelDetails are what ollama's API says of a model.
type ModelDetails struct {
	Format            string `json:"format"`
	Family            string `json:"family"`
	ParameterSize     string `json:"parameter_size"`
	QuantizationLevel string `json:"quantization_level"`
}

// PoolOptions bound the models loaded at once.
type PoolOptions struct {
	// KeepAlive is how long an idle model stays loaded (default 5 min;
	// negative: until evicted).
	KeepAlive time.Duration
	// MaxLoaded is the most models loaded at once (default 3); the least
	// recently used idle one is unloaded to load another. A load refused
	// for memory (engine.MemoryError) also unloads idle models and retries.
	MaxLoaded int
}

// backend is a loaded model and what the handlers need of it. It embeds
// the server, so handler code reads b.writeJSON as s.writeJSON.
type backend struct {
	*Server
	e           *engine.Engine
	tpl         *chat.Template
	name        string
	promptLimit int64
	// adapter is the engine adapter a "MODEL+ADAPTER" request named (-1:
	// none); acquire returns a copy of the backend with it set.
	adapter int
}

// slot is a model of the pool and its state; pool.mu guards every field.
type slot struct {
	m        Model
	b        *backend      // nil while not loaded
	loading  chan struct{} // closed when a load in flight ends
	loadErr  error
	refs     int // requests using it
	lastUsed time.Time
	until    time.Time // unload after this when idle (zero: never)
	keep     time.Duration
	timer    *time.Timer
	pinned   bool // the model New was given: never unloaded
}

// pool holds the models and loads and unloads them.
type pool struct {
	s       *Server
	opts    PoolOptions
	mu      sync.Mutex
	freed   *sync.Cond // signalled when a request releases a model
	slots   []*slot
	byName  map[string]*slot
	retired engine.Stats // counters of models since unloaded
}

func newPool(s *Server, models []Model, opts PoolOptions) (*pool, error) {
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 5 * time.Minute
	}
	if opts.MaxLoaded <= 0 {
		opts.MaxLoaded = 3
	}
	p := &pool{s: s, opts: opts, byName: map[string]*slot{}}
	p.freed = sync.NewCond(&p.mu)
	for _, m := range models {
		if m.Name == "" || m.Load == nil {
			return nil, errors.New("server: a model needs a name and a load function")
		}
		if _, dup := p.byName[m.Name]; dup {
			return nil, fmt.Errorf("server: two models are named %q", m.Name)
		}
		sl := &slot{m: m, keep: opts.KeepAlive}
		p.slots = append(p.slots, sl)
		p.byName[m.Name] = sl
	}
	return p, nil
}

// add serves one more model (ollama's /api/pull); a model of that name is
// replaced once no request uses it.
func (p *pool) add(m Model) error {
	if p.s.single != nil {
		return errors.New("server: this server serves one model")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl, ok := p.byName[m.Name]; ok {
		if sl.refs == 0 {
			p.unloadLocked(sl, "replaced by a pull")
			sl.m = m
		}
		return nil
	}
	sl := &slot{m: m, keep: p.opts.KeepAlive}
	p.slots = append(p.slots, sl)
	p.byName[m.Name] = sl
	return nil
}

// find returns the slot a request's model name picks: the name, or it with
// ".gguf"; no name picks the only model, or the only one loaded.
func (p *pool) find(name string) (*slot, *apiError) {
	if name == "" {
		if len(p.slots) == 1 {
			return p.slots[0], nil
		}
		var loaded []*slot
		for _, sl := range p.slots {
			if sl.b != nil {
				loaded = append(loaded, sl)
			}
		}
		if len(loaded) == 1 {
			return loaded[0], nil
		}
		return nil, invalid("model", "'model' is required: this server serves %d models (GET /v1/models lists them)", len(p.slots))
	}
	if sl, ok := p.byName[name]; ok {
		return sl, nil
	}
	if sl, ok := p.byName[trimGGUF(name)]; ok {
		return sl, nil
	}
	// One model answers any other name, but not MODEL+ADAPTER (acquire
	// looks for the adapter).
	if p.s.single != nil && !p.s.opts.StrictModelName && len(p.slots) == 1 {
		if i := strings.LastIndexByte(name, '+'); i <= 0 || (name[:i] != p.slots[0].m.Name && trimGGUF(name[:i]) != p.slots[0].m.Name) {
			return p.slots[0], nil
		}
	}
	return nil, p.s.modelNotFound(name)
}

func trimGGUF(s string) string {
	if len(s) > 5 && s[len(s)-5:] == ".gguf" {
		return s[:len(s)-5]
	}
	return s
}

// acquire returns the model name picks, loaded, and a release to call when
// the request is done. keep, if not nil, sets how long it stays loaded
// once idle (ollama's keep_alive).
func (p *pool) acquire(ctx context.Context, name string, keep *time.Duration) (*backend, func(), *apiError) {
	p.mu.Lock()
	sl, e := p.find(name)
	adapter := ""
	if e != nil {
		// MODEL+ADAPTER names an adapter loaded with a model.
		if i := strings.LastIndexByte(name, '+'); i > 0 && i < len(name)-1 {
			if s2, e2 := p.find(name[:i]); e2 == nil {
				sl, e, adapter = s2, nil, name[i+1:]
			}
		}
	}
	if e != nil {
		p.mu.Unlock()
		return nil, nil, e
	}
	for sl.b == nil {
		if sl.loading != nil {
			ch := sl.loading
			p.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, nil, generationError(context.Cause(ctx), "")
			}
			p.mu.Lock()
			if sl.b == nil && sl.loadErr != nil {
				err := sl.loadErr
				p.mu.Unlock()
				return nil, nil, loadError(sl.m.Name, err)
			}
			continue
		}
		if p.loadedLocked() >= p.opts.MaxLoaded {
			// Unload the least recently used idle model, or wait for a
			// request to end; then look again.
			if v := p.lruIdle(sl); v != nil {
				p.unloadLocked(v, fmt.Sprintf("to load %s (at most %d loaded)", sl.m.Name, p.opts.MaxLoaded))
			} else if err := p.wait(ctx); err != nil {
				p.mu.Unlock()
				return nil, nil, generationError(err, "")
			}
			continue
		}
		sl.loading, sl.loadErr = make(chan struct{}), nil
		p.mu.Unlock()
		b, err := p.load(ctx, sl)
		p.mu.Lock()
		close(sl.loading)
		sl.loading = nil
		if err != nil {
			sl.loadErr = err
			p.mu.Unlock()
			return nil, nil, loadError(sl.m.Name, err)
		}
		sl.b = b
		p.s.log.Info("model loaded", "model", sl.m.Name, "load", b.e.LoadTime.Round(time.Millisecond))
	}
	sl.refs++
	if sl.timer != nil {
		sl.timer.Stop()
	}
	if keep != nil {
		sl.keep = *keep
	}
	b := sl.b
	p.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { p.release(sl) }) }
	if adapter != "" {
		id := b.adapterID(adapter)
		if id < 0 {
			release()
			return nil, nil, &apiError{status: http.StatusNotFound, Type: "invalid_request_error", Param: strPtr("model"), Code: strPtr("model_not_found"),
				Message: fmt.Sprintf("the model '%s' has no LoRA adapter '%s' (GET /lora-adapters lists its adapters)", sl.m.Name, adapter)}
		}
		bb := *b
		bb.adapter = id
		return &bb, release, nil
	}
	return b, release, nil
}

// load loads sl's model; a refusal for memory unloads idle models, least
// recently used first, and tries again.
func (p *pool) load(ctx context.Context, sl *slot) (*backend, error) {
	for {
		e, tpl, err := sl.m.Load(ctx)
		var me *engine.MemoryError
		if errors.As(err, &me) {
			p.mu.Lock()
			victim := p.lruIdle(sl)
			if victim != nil {
				p.unloadLocked(victim, "to free memory for "+sl.m.Name)
			}
			p.mu.Unlock()
			if victim != nil {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		b, err := p.s.newBackend(e, tpl, sl.m.Name)
		if err != nil {
			e.Close()
			return nil, err
		}
		return b, nil
	}
}

// wait waits for a request to release a model, or for ctx to end. Called
// with p.mu held.
func (p *pool) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.freed.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	p.freed.Wait()
	return context.Cause(ctx)
}

func (p *pool) loadedLocked() int {
	n := 0
	for _, sl := range p.slots {
		if sl.b != nil || sl.loading != nil {
			n++
		}
	}
	return n
}

// lruIdle returns the least recently used loaded model no request uses,
// other than not, or nil.
func (p *pool) lruIdle(not *slot) *slot {
	var v *slot
	for _, sl := range p.slots {
		if sl == not || sl.b == nil || sl.refs > 0 || sl.pinned {
			continue
		}
		if v == nil || sl.lastUsed.Before(v.lastUsed) {
			v = sl
		}
	}
	return v
}

// release ends a request's use of sl and schedules its unloading.
func (p *pool) release(sl *slot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl.refs--
	sl.lastUsed = time.Now()
	p.freed.Broadcast()
	if sl.refs > 0 || sl.pinned || sl.keep < 0 {
		sl.until = time.Time{}
		return
	}
	if sl.keep == 0 {
		p.unloadLocked(sl, "keep_alive 0")
		return
	}
	sl.until = sl.lastUsed.Add(sl.keep)
	if sl.timer != nil {
		sl.timer.Stop()
	}
	sl.timer = time.AfterFunc(sl.keep, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if sl.b != nil && sl.refs == 0 && !sl.until.IsZero() && !time.Now().Before(sl.until) {
			p.unloadLocked(sl, "idle for its keep-alive")
		}
	})
}

// unloadLocked closes sl's engine and gives its memory back. Called with
// p.mu held, for a model no request uses.
func (p *pool) unloadLocked(sl *slot, why string) {
	if sl.b == nil {
		return
	}
	st := sl.b.e.Stats()
	p.retired = addCounters(p.retired, st)
	sl.b.e.Close()
	sl.b, sl.until, sl.keep = nil, time.Time{}, p.opts.KeepAlive
	if sl.timer != nil {
		sl.timer.Stop()
	}
	p.s.log.Info("model unloaded", "model", sl.m.Name, "why", why)
	debug.FreeOSMemory() // the KV cache and repacked weights are the heap's
}

// close unloads every model (the server's end).
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sl := range p.slots {
		if !sl.pinned {
			p.unloadLocked(sl, "server closed")
		}
	}
}

// stats sums the loaded models' scheduler state and every model's
// counters.
func (p *pool) stats() engine.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.retired
	st.Sequences, st.Active, st.Queued, st.KVActiveTokens, st.KVCachedTokens, st.TokensPerSecond = 0, 0, 0, 0, 0, 0
	for _, sl := range p.slots {
		if sl.b == nil {
			continue
		}
		o := sl.b.e.Stats()
		st = addCounters(st, o)
		st.Sequences += o.Sequences
		st.Active += o.Active
		st.Queued += o.Queued
		st.KVActiveTokens += o.KVActiveTokens
		st.KVCachedTokens += o.KVCachedTokens
		st.TokensPerSecond += o.TokensPerSecond
		st.Context = max(st.Context, o.Context)
	}
	return st
}

func addCounters(a, b engine.Stats) engine.Stats {
	a.Steps += b.Steps
	a.Requests += b.Requests
	a.PromptTokens += b.PromptTokens
	a.CachedTokens += b.CachedTokens
	a.GeneratedTokens += b.GeneratedTokens
	return a
}

// modelState is a model as /v1/models and ollama's /api/ps describe it.
type modelState struct {
	m       Model
	loaded  bool
	until   time.Time
	kvBytes int64
	context int
}

// list returns every model's state, by name.
func (p *pool) list() []modelState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]modelState, 0, len(p.slots))
	for _, sl := range p.slots {
		ms := modelState{m: sl.m, loaded: sl.b != nil, until: sl.until}
		if sl.b != nil {
			o := sl.b.e.Options()
			ms.kvBytes, ms.context = sl.b.e.KVCacheBytes(), o.Context
		}
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].m.Name < out[j].m.Name })
	return out
}

// loadError is the answer to a request whose model could not be loaded.
func loadError(name string, err error) *apiError {
	var me *engine.MemoryError
	if errors.As(err, &me) {
		return &apiError{status: http.StatusServiceUnavailable, Type: "server_error", Code: strPtr("insufficient_memory"),
			Message: fmt.Sprintf("model %s cannot be loaded: %v", name, err)}
	}
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	return &apiError{status: http.StatusInternalServerError, Type: "server_error", Code: strPtr("model_load_failed"),
		Message: fmt.Sprintf("model %s cannot be loaded: %v", name, err)}
}
