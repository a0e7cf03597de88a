package engine

import (
	"errors"
	"math"
	"sync"

	"github.com/shimmer-llm/shimmer/grammar"
)

// ErrGrammarStuck ends a constrained generation whose grammar allows no
// token of the vocabulary (and cannot end there).
var ErrGrammarStuck = errors.New("engine: the grammar allows no token the vocabulary can express here")

// constraint is one sequence's grammar state.
type constraint struct {
	m     *grammar.Matcher
	v     *grammar.Vocab
	isEOG func(int32) bool
	eog   []int32   // the end-of-generation tokens
	eogL  []float32 // their logits, kept while masking
	mask  []uint64
}

// vocab returns the engine's vocabulary trie, built on first use: each
// token's text as the stream decoder writes it (control tokens have none).
func (e *Engine) vocab() *grammar.Vocab {
	e.vocabOnce.Do(func() {
		pieces := make([]string, e.Hyper().Vocab)
		for id := 0; id < e.tok.NumTokens(); id++ {
			pieces[id] = e.tok.Piece(int32(id), false)
		}
		e.vocabTrie = grammar.NewVocab(pieces)
		e.vocabEOG = e.tok.EOG()
	})
	return e.vocabTrie
}

type vocabCache struct {
	vocabOnce sync.Once
	vocabTrie *grammar.Vocab
	vocabEOG  []int32
}

func (e *Engine) newConstraint(g *grammar.Grammar) *constraint {
	v := e.vocab()
	return &constraint{m: g.NewMatcher(), v: v, isEOG: e.tok.IsEOG, eog: e.vocabEOG,
		eogL: make([]float32, len(e.vocabEOG)), mask: make([]uint64, v.MaskWords())}
}

// allowed reports whether token id may come next.
func (c *constraint) allowed(id int32, piece string) bool {
	if c.isEOG(id) {
		return c.m.CanEnd()
	}
	return piece != "" && c.m.Accepts(piece)
}

// sampleAllowed is sample restricted to the tokens the grammar allows,
// the way llama.cpp's common sampler does it: sample as if there were no
// grammar and keep the token when the grammar allows it (a model that
// follows the grammar usually picks an allowed token, and this costs one
// check); otherwise mask the whole vocabulary with the grammar (refused
// tokens get -inf, end-of-generation only where the grammar can end) and
// sample again from what is left. ok is false when nothing is allowed.
func (s *sampler) sampleAllowed(logits []float32, c *constraint) (int32, bool) {
	// The first draw does not disturb logits (the chain works on a copy).
	if id := s.sample(logits); c.allowed(id, c.v.Piece(id)) {
		return id, true
	}
	c.m.Allowed(c.v, c.mask)
	// Refused tokens get -inf; end-of-generation tokens (never in the
	// trie, they have no text) keep their logits where the grammar can end.
	for i, id := range c.eog {
		c.eogL[i] = logits[id]
	}
	some := false
	inf := float32(math.Inf(-1))
	for w, bits := range c.mask {
		some = some || bits != 0
		for id := w * 64; id < min(w*64+64, len(logits)); id++ {
			if bits&(1<<(id&63)) == 0 {
				logits[id] = inf
			}
		}
	}
	if c.m.CanEnd() {
		for i, id := range c.eog {
			logits[id] = c.eogL[i]
			some = true
		}
	}
	if !some {
		return 0, false
	}
	// The second draw runs the whole chain again on the masked logits, as
	// llama.cpp's resampling does.
	return s.sample(logits), true
}
