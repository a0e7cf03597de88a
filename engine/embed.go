package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/shimmer-llm/shimmer/model"
)

// ErrNotEmbedding is returned by Embed and Rerank for a model that has no
// pooled output (a chat model without a pooling type).
var ErrNotEmbedding = errors.New("engine: the model is not an embedding model (it declares no pooling type)")

// ErrNoClassifier is returned for rank pooling (Rerank) on an embedding
// model without a classifier head.
var ErrNoClassifier = errors.New("engine: the model has no classifier head to rerank with")

// EmbedOptions adjusts Embed.
type EmbedOptions struct {
	// Pooling overrides the model's pooling type (nil: the model's).
	Pooling *model.Pooling
	// Raw keeps the pooled vectors as the model computes them; by default
	// they are L2-normalised (as llama-server and the OpenAI API return
	// them). Rank scores are never normalised.
	Raw bool
}

// InputError says which input cannot be embedded and why.
type InputError struct {
	Index int
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("input %d: %v", e.Index, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// IsEmbedding reports whether the model has pooled outputs: it declares
// a pooling type, or Options.Pooling gave it one.
func (e *Engine) IsEmbedding() bool {
	m, ok := e.model.(model.Embedder)
	return ok && (m.Embeds() || e.opts.Pooling != nil)
}

// Pooling returns the pooling in effect: Options.Pooling, else the
// model's own (PoolNone for models that do not embed).
func (e *Engine) Pooling() model.Pooling {
	if e.opts.Pooling != nil {
		return *e.opts.Pooling
	}
	if m, ok := e.model.(model.Embedder); ok && m.Embeds() {
		return m.Pooling()
	}
	return model.PoolNone
}

// Embed tokenizes each text (with the vocabulary's special tokens) and
// returns its pooled vector, in input order.
func (e *Engine) Embed(ctx context.Context, texts []string, o EmbedOptions) ([][]float32, error) {
	seqs := make([][]int32, len(texts))
	for i, t := range texts {
		if t == "" {
			return nil, &InputError{i, errors.New("the text is empty")}
		}
		seqs[i] = e.tok.Encode(t, true, true)
	}
	return e.EmbedTokens(ctx, seqs, o)
}

// EmbedTokens is Embed for token sequences.
func (e *Engine) EmbedTokens(ctx context.Context, seqs [][]int32, o EmbedOptions) ([][]float32, error) {
	m, ok := e.model.(model.Embedder)
	if !ok || !e.IsEmbedding() {
		return nil, ErrNotEmbedding
	}
	if !allZero(e.defaultScales()) {
		return nil, fmt.Errorf("engine: embeddings with LoRA adapters applied are not supported (set the adapters' scales to 0)")
	}
	p := e.Pooling()
	if o.Pooling != nil {
		p = *o.Pooling
	}
	if p == model.PoolRank && m.OutputDim(p) == 0 {
		return nil, ErrNoClassifier
	}
	limit := min(m.MaxTokens(), e.opts.Context)
	for i, s := range seqs {
		switch {
		case len(s) == 0:
			return nil, &InputError{i, errors.New("it is empty (no tokens)")}
		case len(s) > limit:
			return nil, &InputError{i, &ContextError{Tokens: len(s), Context: limit}}
		}
		for _, t := range s {
			if t < 0 || int(t) >= m.Hyper().Vocab {
				return nil, &InputError{i, fmt.Errorf("token id %d is out of range [0, %d)", t, m.Hyper().Vocab)}
			}
		}
	}
	out := make([][]float32, len(seqs))
	// Inputs run in passes of up to BatchSize tokens (one at least),
	// longest first so passes fill evenly; each is its own sequence.
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(seqs[order[a]]) > len(seqs[order[b]]) })
	var batch [][]int32
	var idx []int
	tokens := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res := make([][]float32, len(batch))
		if err := m.Embed(e.pool, batch, p, res); err != nil {
			return err
		}
		for j, i := range idx {
			out[i] = res[j]
		}
		batch, idx, tokens = batch[:0], idx[:0], 0
		return nil
	}
	for _, i := range order {
		if tokens+len(seqs[i]) > e.opts.BatchSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, seqs[i])
		idx = append(idx, i)
		tokens += len(seqs[i])
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if !o.Raw && p != model.PoolRank && p != model.PoolNone {
		for _, v := range out {
			model.L2Normalize(v)
		}
	}
	return out, nil
}

// RerankResult is one document's relevance to the query.
type RerankResult struct {
	Index int
	Score float32   // the classifier's first output, as llama-server reports it
	All   []float32 // every classifier output
}

// Rerank scores each document against the query with a cross-encoder
// (rank pooling), in document order.
func (e *Engine) Rerank(ctx context.Context, query string, docs []string) ([]RerankResult, error) {
	m, ok := e.model.(model.Embedder)
	if !ok || !e.IsEmbedding() {
		return nil, ErrNotEmbedding
	}
	if m.OutputDim(model.PoolRank) == 0 {
		return nil, ErrNoClassifier
	}
	seqs := make([][]int32, len(docs))
	for i, d := range docs {
		seqs[i] = model.RerankIDs(e.tok, query, d)
	}
	rank := model.PoolRank
	scores, err := e.EmbedTokens(ctx, seqs, EmbedOptions{Pooling: &rank})
	if err != nil {
		return nil, err
	}
	out := make([]RerankResult, len(docs))
	for i, s := range scores {
		out[i] = RerankResult{Index: i, Score: s[0], All: s}
	}
	return out, nil
}
