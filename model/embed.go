package model

import (
	"fmt"
	"math"

	"github.com/shimmer-llm/shimmer/compute"
)

// Pooling is how an embedding model turns a sequence's token states into
// one vector (llama.cpp's pooling types, as GGUF's <arch>.pooling_type
// numbers them).
type Pooling int

const (
	PoolNone Pooling = 0 // one vector per token
	PoolMean Pooling = 1 // the mean of the token states
	PoolCLS  Pooling = 2 // the first token's state
	PoolLast Pooling = 3 // the last token's state
	PoolRank Pooling = 4 // the classifier's scores of the first token
)

// String names the pooling as llama-server's --pooling flag does.
func (p Pooling) String() string {
	switch p {
	case PoolNone:
		return "none"
	case PoolMean:
		return "mean"
	case PoolCLS:
		return "cls"
	case PoolLast:
		return "last"
	case PoolRank:
		return "rank"
	}
	return fmt.Sprintf("pooling(%d)", int(p))
}

// ParsePooling reads a pooling name.
func ParsePooling(s string) (Pooling, error) {
	for p := PoolNone; p <= PoolRank; p++ {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("model: pooling %q is not one of none, mean, cls, last, rank", s)
}

// LayerNormRows normalises n rows of width len(w) of x into dst to zero
// mean and unit variance, then multiplies by w and adds b, as ggml's norm
// then mul and add: the sums in float64, mean and variance rounded to
// float32, scale 1/sqrtf(variance + eps).
func LayerNormRows(dst, x, w, b []float32, n int, eps float32) {
	d := len(w)
	for i := 0; i < n; i++ {
		xr, yr := x[i*d:(i+1)*d], dst[i*d:(i+1)*d]
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := float32(sum) / float32(d)
		var sum2 float64
		for j, v := range xr {
			y := v - mean
			yr[j] = y
			sum2 += float64(y * y)
		}
		variance := float32(sum2 / float64(d))
		scale := 1 / float32(math.Sqrt(float64(variance+eps)))
		for j := range yr {
			yr[j] = yr[j] * scale * w[j]
			if b != nil {
				yr[j] += b[j]
			}
		}
	}
}

// PoolStates pools the n token states (rows of width d) of one sequence
// into dst (reusing its storage) by p, as llama.cpp pools: none keeps them
// all, mean averages (each state times 1/n, summed in token order), cls
// takes the first and last the last. Rank pooling is the model's own.
func PoolStates(dst, states []float32, n, d int, p Pooling) ([]float32, error) {
	switch p {
	case PoolNone:
		return append(dst[:0], states[:n*d]...), nil
	case PoolCLS:
		return append(dst[:0], states[:d]...), nil
	case PoolLast:
		return append(dst[:0], states[(n-1)*d:n*d]...), nil
	case PoolMean:
		dst = append(dst[:0], make([]float32, d)...)
		inv := 1 / float32(n)
		for j := range dst {
			var sum float32
			for t := 0; t < n; t++ {
				sum += states[t*d+j] * inv
			}
			dst[j] = sum
		}
		return dst, nil
	}
	return dst, fmt.Errorf("model: pooling %s is not available here", p)
}

// L2Normalize scales v to unit length (a zero vector stays zero), as
// llama.cpp's embd_normalize with norm 2: the sum of squares in float64.
func L2Normalize(v []float32) {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
}

// Embedder is a model that turns token sequences into vectors (BERT
// encoders; see also the decoders' last-token and mean pooling).
type Embedder interface {
	Model
	// Embeds says the model is an embedding model (a decoder is one when
	// its file declares a pooling type).
	Embeds() bool
	// Pooling is the model's own pooling (its <arch>.pooling_type).
	Pooling() Pooling
	// OutputDim is the length of one pooled vector.
	OutputDim(p Pooling) int
	// MaxTokens is the longest sequence the model takes.
	MaxTokens() int
	// Embed evaluates the sequences in one pass, each attending to itself
	// only, and writes each one's pooled vector to out[i] (reusing its
	// storage when large enough).
	Embed(pool *compute.Pool, seqs [][]int32, p Pooling, out [][]float32) error
}

// IsEncoder reports whether m only embeds (a BERT encoder): it has no
// next-token logits, so it needs no KV cache.
func IsEncoder(m Model) bool {
	e, ok := m.(interface{ EncoderOnly() bool })
	return ok && e.EncoderOnly()
}

// Tokenizer is what RerankIDs needs of a tokenizer.
type Tokenizer interface {
	Encode(text string, addSpecial, parseSpecial bool) []int32
	BOS() int32
	EOS() int32
	SEP() int32
	AddBOS() bool
	AddEOS() bool
	AddSEP() bool
}

// RerankIDs builds the input of a cross-encoder for a query and a
// document as llama-server's format_prompt_rerank does without a rerank
// template: BOS if the vocabulary adds it, the query, EOS (SEP when there
// is no EOS) if it adds EOS, SEP if it adds SEP, the document, and EOS
// again if it adds EOS; both texts tokenized without special tokens or
// special-token parsing. For BERT: [CLS] query [SEP] document.
func RerankIDs(tok Tokenizer, query, doc string) []int32 {
	eos := tok.EOS()
	if eos < 0 {
		eos = tok.SEP()
	}
	var ids []int32
	if tok.AddBOS() && tok.BOS() >= 0 {
		ids = append(ids, tok.BOS())
	}
	ids = append(ids, tok.Encode(query, false, false)...)
	if tok.AddEOS() && eos >= 0 {
		ids = append(ids, eos)
	}
	if tok.AddSEP() && tok.SEP() >= 0 {
		ids = append(ids, tok.SEP())
	}
	ids = append(ids, tok.Encode(doc, false, false)...)
	if tok.AddEOS() && eos >= 0 {
		ids = append(ids, eos)
	}
	return ids
}

// Embeds implements Embedder.
func (d *Decoder) Embeds() bool { return d.HasPool }

// Pooling implements Embedder.
func (d *Decoder) Pooling() Pooling { return d.Pool }

// OutputDim implements Embedder: the final-normed hidden state.
func (d *Decoder) OutputDim(p Pooling) int {
	if p == PoolRank {
		return 0
	}
	return d.H.Embd
}

// MaxTokens implements Embedder.
func (d *Decoder) MaxTokens() int { return d.H.CtxTrain }

// Embed implements Embedder for decoders as llama.cpp pools them: the
// final-normed hidden states (causal attention, each sequence on its
// own from position 0) of the last token, the first, or their mean. The
// sequences run as one batch over a KV cache of their own.
func (d *Decoder) Embed(pool *compute.Pool, seqs [][]int32, p Pooling, out [][]float32) error {
	if p == PoolRank {
		return fmt.Errorf("model: rank pooling is not available for a decoder")
	}
	n, longest := 0, 0
	for i, s := range seqs {
		if len(s) == 0 {
			return fmt.Errorf("model: sequence %d is empty", i)
		}
		n += len(s)
		longest = max(longest, len(s))
	}
	h := d.H
	cache, err := NewKVCache(h, len(seqs), longest, n, CacheTypes{})
	if err != nil {
		return err
	}
	st, err := NewState(h, pool, cache, n)
	if err != nil {
		return err
	}
	var b Batch
	for i, s := range seqs {
		for j, t := range s {
			b.Add(t, int32(j), int32(i), true)
		}
	}
	if _, err := d.hidden(st, &b); err != nil {
		return err
	}
	e, row := h.Embd, 0
	for i, s := range seqs {
		if out[i], err = PoolStates(out[i], st.Out[row*e:], len(s), e, p); err != nil {
			return err
		}
		row += len(s)
	}
	return nil
}
