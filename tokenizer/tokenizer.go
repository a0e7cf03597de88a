// Package tokenizer converts between text and token ids with the
// vocabulary stored in a GGUF file (tokenizer.ggml.* keys), exactly as
// llama.cpp does.
//
// Four families are supported: SentencePiece-style vocabularies
// (tokenizer.ggml.model "llama"), byte-level BPE ("gpt2", with the
// pre-tokenizer named by tokenizer.ggml.pre), Gemma-4-style BPE on raw UTF-8
// ("gemma4") and WordPiece ("bert"). The pre-tokenizers are llama.cpp's,
// by the names it knows: llama3 (llama-bpe …), qwen2, qwen35, gpt-2, mpt,
// starcoder, refact, falcon, deepseek-llm, deepseek-coder, gemma4, bloom,
// viking, seed-coder, gpt-4o, tekken, deepseek-v3, kimi-k2 and the other
// names of the same groups (see setPre). A model or pre-tokenizer it does
// not know is an error naming it.
//
// Encode is llama_tokenize, Piece is llama_token_to_piece, Decode
// concatenates pieces and Detokenize is llama_detokenize. Text that is not
// valid UTF-8 is read as the reference reads it (U+FFFD for a bad byte in
// BPE vocabularies, raw bytes through byte tokens in SentencePiece).
package tokenizer

import (
	"slices"
	"strings"
	"sync"
)

// TokenType is a token's type as stored in tokenizer.ggml.token_type.
type TokenType int32

// Token types.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// Token attributes (llama_token_attr), derived from the types and from the
// reference's per-model rules.
const (
	attrUnknown     uint16 = 1 << 0
	attrUnused      uint16 = 1 << 1
	attrNormal      uint16 = 1 << 2
	attrControl     uint16 = 1 << 3
	attrUserDefined uint16 = 1 << 4
	attrByte        uint16 = 1 << 5
	attrLStrip      uint16 = 1 << 7
	attrRStrip      uint16 = 1 << 8
)

type family int

const (
	famSPM family = iota
	famBPE
	famWPM
)

// Tokenizer is an immutable vocabulary; it is safe for concurrent use.
type Tokenizer struct {
	fam   family
	model string // tokenizer.ggml.model
	pre   string // tokenizer.ggml.pre (or the family's implied one)

	tokens []string
	types  []TokenType
	attrs  []uint16
	scores []float32
	ids    *idTable

	bos, eos, eot, eom, unk, sep, pad int32
	fim                               FIM
	eog                               map[int32]bool

	addBOS, addEOS, addSep bool
	addSpacePrefix         bool // SPM: a space before the first word
	cleanSpaces            bool // detokenizer: clean_up_tokenization_spaces
	escapeSpaces           bool // BPE on raw text: ' ' is written as U+2581
	ignoreMerges           bool // BPE: a word that is a token is taken whole
	gemma4                 bool // Gemma 4 pre-tokenizer (newline runs, forced BOS)
	lowercase, stripAccent bool // WordPiece normalizer

	specials    []int32 // control, user-defined and unknown tokens, longest first
	specialIdx  *specialIndex
	maxTokenLen int

	// byte-level BPE
	split      *splitter
	byteEncode bool
	merges     mergeTable
	oddMerges  map[[2]string]int32 // merges with a side that is not a token
	byteTok    [256]int32          // token of each byte (byte-level or <0xXX>)

	// SentencePiece and Gemma 4: words that can be tokenized one at a time
	wordSplit bool
	crossing  [][2]string

	noCache bool       // benchmarks: measure the algorithm alone
	cache   *wordCache // word -> ids (BPE and SentencePiece)
}

// wordCache remembers the ids of short words.
type wordCache struct {
	mu sync.RWMutex
	m  map[string][]int32
}

const (
	maxCachedWord  = 48
	maxCachedWords = 1 << 16
)

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	ids, ok := c.m[w]
	c.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	v := slices.Clone(ids)
	c.mu.Lock()
	if len(c.m) >= maxCachedWords {
		clear(c.m)
	}
	c.m[strings.Clone(w)] = v
	c.mu.Unlock()
}

// cached returns the ids of w from the cache, or computes them with fn.
func (t *Tokenizer) cached(w string, out []int32, fn func(w string, out []int32) []int32) []int32 {
	if len(w) > maxCachedWord || t.noCache {
		return fn(w, out)
	}
	if ids, ok := t.cache.get(w); ok {
		return append(out, ids...)
	}
	n := len(out)
	out = fn(w, out)
	t.cache.put(w, out[n:])
	return out
}

// NumTokens returns the vocabulary size.
func (t *Tokenizer) NumTokens() int { return len(t.tokens) }

// Text returns the stored text of token id (as in tokenizer.ggml.tokens),
// or "" for an id outside the vocabulary.
func (t *Tokenizer) Text(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.tokens[id]
}

// Type returns the type of token id (TypeUndefined outside the vocabulary).
func (t *Tokenizer) Type(id int32) TokenType {
	if !t.valid(id) {
		return TypeUndefined
	}
	return t.types[id]
}

// Score returns the score of token id (0 when the file has none).
func (t *Tokenizer) Score(id int32) float32 {
	if !t.valid(id) || t.scores == nil {
		return 0
	}
	return t.scores[id]
}

// ID returns the token whose text is s, or -1.
func (t *Tokenizer) ID(s string) int32 {
	if id, ok := t.ids.get(s); ok {
		return id
	}
	return -1
}

// IsControl reports whether id is rendered only on request (control and
// unknown tokens, as the reference treats them after its fix-ups).
func (t *Tokenizer) IsControl(id int32) bool {
	return t.valid(id) && t.attrs[id]&(attrControl|attrUnknown) != 0
}

// Model returns tokenizer.ggml.model.
func (t *Tokenizer) Model() string { return t.model }

// Pre returns the pre-tokenizer name in use ("" for families without one).
func (t *Tokenizer) Pre() string { return t.pre }

// BOS returns the beginning-of-sequence token, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT returns the end-of-turn token, or -1.
func (t *Tokenizer) EOT() int32 { return t.eot }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// SEP is the separator token (-1 if none).
func (t *Tokenizer) SEP() int32 { return t.sep }

// AddSEP reports whether the vocabulary ends a sequence with SEP (BERT's
// [SEP]).
func (t *Tokenizer) AddSEP() bool { return t.addSep }

// IsEOG reports whether id ends generation (EOS, EOT, <|im_end|>, …).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// FIM are a vocabulary's fill-in-the-middle tokens (-1: none): prefix,
// suffix and middle, and the repository-level ones (pad, repository name,
// file separator).
type FIM struct {
	Pre, Suf, Mid, Pad, Rep, Sep int32
}

// FIM returns the vocabulary's fill-in-the-middle tokens, from its
// metadata or found by their texts as llama.cpp finds them.
func (t *Tokenizer) FIM() FIM { return t.fim }

// EOG returns the end-of-generation tokens in increasing order.
func (t *Tokenizer) EOG() []int32 {
	out := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.tokens) }

// MinTokens is a lower bound on the number of tokens Encode gives for
// text, known without tokenizing it: no token covers more bytes of the
// text than its own vocabulary string is long (SentencePiece's ▁ and
// byte-level BPE's byte symbols are at least as long as what they stand
// for). WordPiece drops whitespace and accents, so it has no such bound
// and gets 0. Callers use it to refuse a prompt that cannot fit a context
// before spending memory on its tokens.
func (t *Tokenizer) MinTokens(text string) int { return t.MinTokensOf(len(text)) }

// MinTokensOf is MinTokens for any text of n bytes.
func (t *Tokenizer) MinTokensOf(n int) int {
	if t.fam == famWPM || t.maxTokenLen == 0 {
		return 0
	}
	return n / t.maxTokenLen
}

// MaxTokenBytes is the length of the longest vocabulary string: no token
// covers more bytes of a text (but for WordPiece, see MinTokens).
func (t *Tokenizer) MaxTokenBytes() int { return t.maxTokenLen }
