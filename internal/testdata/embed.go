package testdata

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// EmbedCase is one input of embed/ with llama.cpp's outputs for a model.
type EmbedCase struct {
	// Text is the input (texts.txt), or for a reranker the query and the
	// document of rerank-pairs.tsv.
	Text, Query, Doc string
	// IDs are the tokens llama.cpp evaluated; Embedding its raw pooled
	// output (for a reranker the score).
	IDs       []int32   `json:"ids"`
	Embedding []float32 `json:"embedding"`
}

// LoadEmbeddings reads embed/<model>.jsonl with the inputs it answers:
// texts.txt line by line, or rerank-pairs.tsv for tiny-bert-rerank.
func LoadEmbeddings(tb testing.TB, model string) []EmbedCase {
	tb.Helper()
	rerank := model == "tiny-bert-rerank"
	inputs := "texts.txt"
	if rerank {
		inputs = "rerank-pairs.tsv"
	}
	b, err := os.ReadFile(Path(tb, "embed", inputs))
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	f, err := os.Open(Path(tb, "embed", model+".jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []EmbedCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c EmbedCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("embed/%s.jsonl line %d: %v", model, len(out)+1, err)
		}
		if len(out) >= len(lines) {
			tb.Fatalf("embed/%s.jsonl has more lines than embed/%s", model, inputs)
		}
		if rerank {
			c.Query, c.Doc, _ = strings.Cut(lines[len(out)], "\t")
		} else {
			c.Text = lines[len(out)]
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("embed/%s.jsonl is empty", model)
	}
	return out
}
