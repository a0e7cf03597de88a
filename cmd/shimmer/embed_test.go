package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// shimmer embed prints llama.cpp's pooled vectors (--no-normalize) or
// unit vectors along them, one line per text in order, from arguments or
// --jsonl stdin; shimmer rerank prints llama.cpp's scores in document
// order; both refuse what they cannot do with one line and a non-zero
// exit.
func TestEmbedCommands(t *testing.T) {
	var texts []string
	var want [][]float64
	for _, c := range testdata.LoadEmbeddings(t, "tiny-bert") {
		texts = append(texts, c.Text)
		w := make([]float64, len(c.Embedding))
		for j, v := range c.Embedding {
			w[j] = float64(v)
		}
		want = append(want, w)
	}
	model := testdata.Path(t, "models", "tiny-bert.gguf")
	var stdin strings.Builder
	for _, s := range texts {
		j, _ := json.Marshal(s)
		stdin.Write(j)
		stdin.WriteByte('\n')
	}
	for _, c := range []struct {
		args  []string
		stdin string
		raw   bool
	}{
		{append([]string{"embed", "-m", model, "--no-normalize"}, texts...), "", true},
		{[]string{"embed", "-m", model, "--jsonl"}, stdin.String(), false},
	} {
		out, errs, code := shimmer(t, c.stdin, c.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args[:3], code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(texts) {
			t.Fatalf("%d lines for %d texts", len(lines), len(texts))
		}
		for i, l := range lines {
			var v []float64
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			var norm, dot, w2, worst float64
			for j := range v {
				norm += v[j] * v[j]
				dot += v[j] * want[i][j]
				w2 += want[i][j] * want[i][j]
				worst = max(worst, math.Abs(v[j]-want[i][j]))
			}
			if c.raw && worst > 1e-4 {
				t.Errorf("raw line %d: worst |Δ| %.2e", i, worst)
			}
			if !c.raw && (math.Abs(norm-1) > 1e-5 || dot/math.Sqrt(w2) < 0.99999) {
				t.Errorf("normalised line %d: |v|² %g, cosine %g", i, norm, dot/math.Sqrt(w2))
			}
		}
	}
	out, errs, code := shimmer(t, "", "rerank", "-m", testdata.Path(t, "models", "tiny-bert-rerank.gguf"), "what is a cat?", "a cat is a small animal", "the stock market fell today")
	// (the first two pairs of embed/rerank-pairs.tsv)
	var res []struct {
		Index int     `json:"index"`
		Score float64 `json:"relevance_score"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res) != 2 {
		t.Fatalf("rerank: exit %d, %v: %s %s", code, err, out, errs)
	}
	pairs := testdata.LoadEmbeddings(t, "tiny-bert-rerank") // pairs 0 and 1 share the query
	for i, p := range pairs[:2] {
		w := float64(p.Embedding[0])
		if res[i].Index != i || math.Abs(res[i].Score-w) > 1e-4 {
			t.Errorf("rerank %d: %+v, llama.cpp %g", i, res[i], w)
		}
	}
	for _, c := range [][]string{
		{"embed", "-m", testdata.Path(t, "models", "stories260K.gguf"), "hi"},
		{"embed", "-m", model, ""},
		{"embed", "-m", model, "--pooling", "max", "hi"},
		{"rerank", "-m", model, "q", "d"},
	} {
		out, errs, code := shimmer(t, "", c...)
		if code == 0 || out != "" || strings.Count(strings.TrimSpace(errs), "\n") != 0 || errs == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c, code, out, errs)
		}
	}
}
