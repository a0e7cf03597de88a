package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	smodel "github.com/shimmer-llm/shimmer/model"
)

// refEmbeddings are llama.cpp's pooled outputs for a model's embed/ inputs.
func refEmbeddings(t *testing.T, name string) (inputs []string, vecs [][]float64) {
	for _, c := range testdata.LoadEmbeddings(t, name) {
		v := make([]float64, len(c.Embedding))
		for j, x := range c.Embedding {
			v[j] = float64(x)
		}
		inputs, vecs = append(inputs, c.Text), append(vecs, v)
	}
	return inputs, vecs
}

func cosine(a, b []float64) float64 {
	var d, na, nb float64
	for i := range a {
		d += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return d / math.Sqrt(na*nb)
}

// /v1/embeddings through the openai client: every text of embed/ in one
// request comes back in order as a unit vector along llama.cpp's, with the
// prompt tokens counted; base64 decodes to the same floats, and
// dimensions truncates and renormalises.
func TestEmbeddingsEndpoint(t *testing.T) {
	f := newModelFixture(t, "tiny-bert", engine.Options{}, Options{})
	texts, want := refEmbeddings(t, "tiny-bert")
	ctx := context.Background()
	resp, err := f.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "tiny-bert",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != len(texts) || resp.Usage.PromptTokens == 0 {
		t.Fatalf("%d embeddings for %d texts, %d prompt tokens", len(resp.Data), len(texts), resp.Usage.PromptTokens)
	}
	tokens := 0
	for i, d := range resp.Data {
		tokens += len(f.e.Tokenizer().Encode(texts[i], true, true))
		var n2 float64
		for _, v := range d.Embedding {
			n2 += v * v
		}
		if d.Index != int64(i) || math.Abs(n2-1) > 1e-5 || cosine(d.Embedding, want[i]) < 0.99999 {
			t.Errorf("text %d: index %d, |v|² %g, cosine %g", i, d.Index, n2, cosine(d.Embedding, want[i]))
		}
	}
	if resp.Usage.PromptTokens != int64(tokens) {
		t.Errorf("prompt_tokens %d, the texts have %d", resp.Usage.PromptTokens, tokens)
	}
	// base64 (the openai client decodes it) and dimensions.
	resp, err = f.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String(texts[1])},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
		Dimensions:     openai.Int(16),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Data[0].Embedding
	head := append([]float64(nil), want[1][:16]...)
	if len(got) != 16 || cosine(got, head) < 0.99999 {
		t.Errorf("base64, 16 dimensions: %d values, cosine %g", len(got), cosine(got, head))
	}
	// A chat model given a pooling (serve --pooling last) embeds as the
	// file declaring it does: tiny-qwen3 is tiny-qwen3-embed's weights.
	last := smodel.PoolLast
	q := newModelFixture(t, "tiny-qwen3", engine.Options{Pooling: &last}, Options{})
	texts, want = refEmbeddings(t, "tiny-qwen3-embed")
	resp, err = q.client.Embeddings.New(ctx, openai.EmbeddingNewParams{Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts}})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range resp.Data {
		if c := cosine(d.Embedding, want[i]); c < 0.99999 {
			t.Errorf("tiny-qwen3 --pooling last, text %d: cosine %g", i, c)
		}
	}
}

// /v1/rerank answers as llama-server does: results sorted by score, at
// most top_n, with the documents when asked; the scores are llama.cpp's.
func TestRerankEndpoint(t *testing.T) {
	f := newModelFixture(t, "tiny-bert-rerank", engine.Options{}, Options{})
	_, want := refEmbeddings(t, "tiny-bert-rerank") // pairs 0 and 1 share the query
	body := `{"query": "what is a cat?", "documents": ["the stock market fell today", "a cat is a small animal"], "top_n": 2, "return_documents": true}`
	resp, err := http.Post(f.ts.URL+"/v1/rerank", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Index          int     `json:"index"`
			RelevanceScore float64 `json:"relevance_score"`
			Document       struct{ Text string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Results) != 2 {
		t.Fatalf("status %d, %v, %+v", resp.StatusCode, err, out)
	}
	// Sorted: document 1 (pair 0, 1.483) before document 0 (pair 1, 1.406).
	r0, r1 := out.Results[0], out.Results[1]
	if r0.Index != 1 || r1.Index != 0 || math.Abs(r0.RelevanceScore-want[0][0]) > 1e-4 || math.Abs(r1.RelevanceScore-want[1][0]) > 1e-4 ||
		r0.Document.Text != "a cat is a small animal" {
		t.Errorf("results %+v, llama.cpp %g %g", out.Results, want[0][0], want[1][0])
	}
}

// Bad embedding requests get a 400 that says why, and the server keeps
// serving; a chat model has no embeddings.
func TestEmbeddingsErrors(t *testing.T) {
	f := newModelFixture(t, "tiny-bert", engine.Options{Context: 32}, Options{})
	call := func(fx *fixture, url, body string) (int, string) {
		code, _, text := post(t, fx.ts.URL+url, body)
		return code, text
	}
	for body, want := range map[string]string{
		`{"input": []}`:                         "empty list",
		`{"input": ""}`:                         "input[0] is an empty string",
		`{"input": ["ok", ""]}`:                 "input[1] is an empty string",
		`{"input": [101, 99999]}`:               "out of range",
		`{"input": {"a": 1}}`:                   "input must be",
		`{}`:                                    "input is missing",
		`{"input": "hi", "encoding_format": 3}`: "",
		`{"input": "hi", "dimensions": 0}`:      "dimensions",
		`{"input": ["a", "` + strings.Repeat("word ", 50) + `"]}`: "input[1] has",
	} {
		code, text := call(f, "/v1/embeddings", body)
		if code != 400 || !strings.Contains(text, want) {
			t.Errorf("%s: %d %s (want 400 mentioning %q)", body, code, text, want)
		}
	}
	if code, _ := call(f, "/v1/embeddings", `{"input": "still serving"}`); code != 200 {
		t.Errorf("after the bad requests: %d", code)
	}
	if code, text := call(f, "/v1/rerank", `{"query": "q", "documents": ["d"]}`); code != 400 || !strings.Contains(text, "classifier") {
		t.Errorf("rerank on an embedding model: %d %s", code, text)
	}
	none := smodel.PoolNone
	perToken := newModelFixture(t, "tiny-bert", engine.Options{Pooling: &none}, Options{})
	if code, text := call(perToken, "/v1/embeddings", `{"input": "hi"}`); code != 400 || !strings.Contains(text, "--pooling") {
		t.Errorf("pooling none: %d %s", code, text)
	}
	chat := newFixture(t, engine.Options{}, Options{})
	if code, text := call(chat, "/v1/embeddings", `{"input": "hi"}`); code != 400 || !strings.Contains(text, "not an embedding model") {
		t.Errorf("chat model: %d %s", code, text)
	}
}
