package engine

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
)

// Embed and Rerank return llama.cpp's pooled outputs (raw within 1e-4;
// normalised: unit length, cosine ≥ 0.99999), whatever the batch size
// that splits the inputs into passes (bit for bit the same). A pooling
// given in Options instead of the file's gives what the file declaring
// it gives: tiny-qwen3 (a chat model) pooled "last" is tiny-qwen3-embed,
// tiny-bert pooled "cls" is tiny-bert-cls (the same weights).
func TestEmbedMatchesLlamaCpp(t *testing.T) {
	ctx := context.Background()
	last, cls := model.PoolLast, model.PoolCLS
	for _, c := range []struct {
		file, refs string
		pooling    *model.Pooling
	}{
		{"tiny-bert", "tiny-bert", nil},
		{"tiny-bert-cls", "tiny-bert-cls", nil},
		{"tiny-qwen3-embed", "tiny-qwen3-embed", nil},
		{"tiny-qwen3", "tiny-qwen3-embed", &last},
		{"tiny-bert", "tiny-bert-cls", &cls},
	} {
		name := c.file
		if c.pooling != nil {
			name += " --pooling " + c.pooling.String()
		}
		refs := testdata.LoadEmbeddings(t, c.refs)
		var texts []string
		var want [][]float32
		for _, r := range refs {
			texts, want = append(texts, r.Text), append(want, r.Embedding)
		}
		var first [][]float32
		for _, bs := range []int{512, 8} {
			e, err := Load(testdata.Path(t, "models", c.file+".gguf"), Options{Threads: 2, BatchSize: bs, Pooling: c.pooling})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := e.Embed(ctx, texts, EmbedOptions{Raw: true})
			if err != nil {
				t.Fatal(err)
			}
			norm, err := e.Embed(ctx, texts, EmbedOptions{})
			e.Close()
			if err != nil {
				t.Fatal(err)
			}
			for i := range texts {
				var worst, dot, n2, w2 float64
				for j, v := range raw[i] {
					worst = max(worst, math.Abs(float64(v-want[i][j])))
					dot += float64(norm[i][j]) * float64(want[i][j])
					n2 += float64(norm[i][j]) * float64(norm[i][j])
					w2 += float64(want[i][j]) * float64(want[i][j])
				}
				if cos := dot / math.Sqrt(w2); worst > 1e-4 || cos < 0.99999 || math.Abs(n2-1) > 1e-5 {
					t.Errorf("%s batch %d input %d: worst |Δ| %.2e, cosine %.7f, |v|² %.7f", name, bs, i, worst, cos, n2)
				}
			}
			if first == nil {
				first = raw
				continue
			}
			for i := range raw {
				for j := range raw[i] {
					if raw[i][j] != first[i][j] {
						t.Fatalf("%s: input %d differs between batch sizes", name, i)
					}
				}
			}
		}
	}
	pairs := testdata.LoadEmbeddings(t, "tiny-bert-rerank")
	e, err := Load(testdata.Path(t, "models", "tiny-bert-rerank.gguf"), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i, p := range pairs {
		res, err := e.Rerank(ctx, p.Query, []string{p.Doc})
		if err != nil {
			t.Fatal(err)
		}
		if diff := math.Abs(float64(res[0].Score - p.Embedding[0])); diff > 1e-4 {
			t.Errorf("rerank pair %d: %g, llama.cpp %g", i, res[0].Score, p.Embedding[0])
		}
	}
}

// Inputs that cannot be embedded are refused with the index and the
// reason; a chat model refuses embeddings.
func TestEmbedErrors(t *testing.T) {
	ctx := context.Background()
	e, err := Load(testdata.Path(t, "models", "tiny-bert.gguf"), Options{Threads: 2, Context: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var ie *InputError
	if _, err := e.Embed(ctx, []string{"fine", ""}, EmbedOptions{}); !errors.As(err, &ie) || ie.Index != 1 || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty text: %v", err)
	}
	long := strings.Repeat("word ", 40)
	var ce *ContextError
	if _, err := e.Embed(ctx, []string{"ok", "ok", long}, EmbedOptions{}); !errors.As(err, &ie) || ie.Index != 2 || !errors.As(err, &ce) {
		t.Errorf("long text: %v", err)
	}
	if _, err := e.EmbedTokens(ctx, [][]int32{{101, 1 << 20}}, EmbedOptions{}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("bad token: %v", err)
	}
	chat, err := Load(testdata.Path(t, "models", "stories260K.gguf"), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer chat.Close()
	if _, err := chat.Embed(ctx, []string{"hi"}, EmbedOptions{}); !errors.Is(err, ErrNotEmbedding) {
		t.Errorf("chat model: %v", err)
	}
	// Rank pooling needs a classifier; a pooling number must be one.
	for _, c := range []struct {
		file string
		p    model.Pooling
		want string
	}{{"stories260K", model.PoolRank, "classifier"}, {"tiny-bert", model.PoolRank, "classifier"}, {"tiny-bert", 9, "not a pooling"}} {
		if _, err := Load(testdata.Path(t, "models", c.file+".gguf"), Options{Threads: 1, Pooling: &c.p}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s pooling %v: %v", c.file, c.p, err)
		}
	}
}

// An encoder keeps no KV cache whatever the context and sequences asked.
func TestEncoderHasNoCache(t *testing.T) {
	e, err := Load(testdata.Path(t, "models", "tiny-bert.gguf"), Options{Threads: 1, Sequences: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dec, err := Load(testdata.Path(t, "models", "tiny-qwen3-embed.gguf"), Options{Threads: 1, Sequences: 8, Context: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	h := dec.Hyper()
	if got, want := dec.KVCacheBytes(), int64(8*512*2*h.Layers*h.KVHeads*h.HeadDim*4); got < want {
		t.Errorf("decoder cache %d bytes, want at least %d", got, want)
	}
	if got := e.KVCacheBytes(); got > 64<<10 {
		t.Errorf("encoder cache %d bytes", got)
	}
}
