// Package model defines what every architecture shares: the batch a forward
// pass evaluates, hyperparameters read from GGUF metadata, the KV cache,
// the scratch state of a forward pass, the registry of architectures and
// the building blocks (norms, attention, feed-forward) they are made of.
//
// An architecture is one sub-package (model/llama, …) that registers a
// constructor under its general.architecture name.
package model

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Batch is the input of one forward pass: entry i is token Tokens[i] at
// position Pos[i] of sequence Seq[i]. A prompt runs as one batch; decoding
// runs one entry per sequence; several sequences may share a batch. Entries
// of one sequence must have increasing positions.
type Batch struct {
	Tokens []int32
	Pos    []int32
	Seq    []int32
	// Logits marks the entries whose logits the caller wants.
	Logits []bool
}

// Len returns the number of entries.
func (b *Batch) Len() int { return len(b.Tokens) }

// Reset empties the batch, keeping its storage.
func (b *Batch) Reset() {
	b.Tokens, b.Pos, b.Seq, b.Logits = b.Tokens[:0], b.Pos[:0], b.Seq[:0], b.Logits[:0]
}

// Add appends one entry.
func (b *Batch) Add(token, pos, seq int32, logits bool) {
	b.Tokens = append(b.Tokens, token)
	b.Pos = append(b.Pos, pos)
	b.Seq = append(b.Seq, seq)
	b.Logits = append(b.Logits, logits)
}

// NumLogits returns how many entries want logits.
func (b *Batch) NumLogits() int {
	n := 0
	for _, l := range b.Logits {
		if l {
			n++
		}
	}
	return n
}

// Model is a loaded architecture.
type Model interface {
	// Hyper returns the hyperparameters.
	Hyper() *Hyper
	// Forward evaluates b using the cache and scratch buffers of s, and
	// writes the logits of the entries marked in b.Logits, Vocab floats
	// each, in batch order, to logits. It is called by one goroutine at a
	// time per State.
	Forward(s *State, b *Batch, logits []float32) error
}

// Constructor builds an architecture from an open file.
type Constructor func(f *gguf.File) (Model, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Constructor{}
)

// Register makes an architecture available under its general.architecture
// name. Architecture packages call it from init.
func Register(arch string, c Constructor) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[arch]; dup {
		panic("model: architecture " + arch + " registered twice")
	}
	registry[arch] = c
}

// Architectures lists the registered architectures, sorted.
func Architectures() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for a := range registry {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// New builds the model described by f.
func New(f *gguf.File) (Model, error) {
	arch, err := f.GetString("general.architecture", "")
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if arch == "" {
		return nil, fmt.Errorf("model: the file has no general.architecture key (is it a vocab-only file?)")
	}
	regMu.RLock()
	c, ok := registry[arch]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("model: unsupported architecture %q (supported: %s)", arch, strings.Join(Architectures(), ", "))
	}
	if len(f.Tensors) == 0 {
		return nil, fmt.Errorf("model: the file has no tensors (vocab-only file?)")
	}
	return c(f)
}
