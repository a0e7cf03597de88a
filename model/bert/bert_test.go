package bert_test

import (
	"math"
	"slices"
	"testing"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
	_ "github.com/shimmer-llm/shimmer/model/archs"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// Every text of embed/texts.txt (and every rerank pair) tokenizes to
// llama.cpp's ids, and its raw pooled output is within 1e-4 of llama.cpp's
// (the rerank score too); normalised, the cosine is at least 0.99999.
// The inputs run together in one pass, each its own sequence.
func TestEmbeddingsMatchLlamaCpp(t *testing.T) {
	pool := compute.NewPool(2)
	defer pool.Close()
	for _, name := range []string{"tiny-bert", "tiny-bert-cls", "tiny-bert-rerank", "tiny-qwen3-embed"} {
		f, err := gguf.Open(testdata.Path(t, "models", name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := model.New(f)
		if err != nil {
			t.Fatal(err)
		}
		e := m.(model.Embedder)
		tok, err := tokenizer.New(f)
		if err != nil {
			t.Fatal(err)
		}
		refs := testdata.LoadEmbeddings(t, name)
		var seqs [][]int32
		for i, r := range refs {
			var ids []int32
			if e.Pooling() == model.PoolRank {
				ids = model.RerankIDs(tok, r.Query, r.Doc)
			} else {
				ids = tok.Encode(r.Text, true, true)
			}
			if !slices.Equal(ids, r.IDs) {
				t.Errorf("%s input %d: ids %v, llama.cpp %v", name, i, ids, r.IDs)
			}
			seqs = append(seqs, r.IDs)
		}
		out := make([][]float32, len(seqs))
		if err := e.Embed(pool, seqs, e.Pooling(), out); err != nil {
			t.Fatal(err)
		}
		var worst float64
		minCos := 1.0
		for i, r := range refs {
			if len(out[i]) != len(r.Embedding) {
				t.Fatalf("%s input %d: %d values, llama.cpp %d", name, i, len(out[i]), len(r.Embedding))
			}
			for j := range r.Embedding {
				worst = max(worst, math.Abs(float64(out[i][j]-r.Embedding[j])))
			}
			a, b := slices.Clone(out[i]), slices.Clone(r.Embedding)
			model.L2Normalize(a)
			model.L2Normalize(b)
			var dot float64
			for j := range a {
				dot += float64(a[j]) * float64(b[j])
			}
			minCos = min(minCos, dot)
		}
		t.Logf("%-18s %d inputs (%s): worst |Δ| %.2e, least cosine %.8f", name, len(refs), e.Pooling(), worst, minCos)
		if worst > 1e-4 || minCos < 0.99999 {
			t.Errorf("%s: worst |Δ| %.2e, least cosine %.8f", name, worst, minCos)
		}
	}
}
