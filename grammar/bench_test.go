package grammar_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/grammar"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// llama3Vocab is the 128k-token Llama 3 vocabulary's pieces.
func llama3Vocab(b *testing.B) []string {
	f, err := gguf.Open(testdata.Path(b, "vocab", "ggml-vocab-llama-bpe.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.New(f)
	if err != nil {
		b.Fatal(err)
	}
	pieces := make([]string, tok.NumTokens())
	for id := range pieces {
		pieces[id] = tok.Piece(int32(id), false)
	}
	return pieces
}

// benchMask generates text under grammar g with the Llama 3 vocabulary:
// each step computes the allowed tokens, then takes the longest allowed
// token that continues text (as a model that follows it would). Each run
// starts a new Matcher, as each request does (its mask cache empty). It
// reports the time of masking and advancing per generated token (the
// search for the next token is not timed) and the allocations per token.
func benchMask(b *testing.B, g *grammar.Grammar, text string) {
	pieces := llama3Vocab(b)
	v := grammar.NewVocab(pieces)
	mask := make([]uint64, v.MaskWords())
	var tokens int
	var spent time.Duration
	var mallocs uint64
	var ms runtime.MemStats
	run := func() {
		m := g.NewMatcher()
		rest := text
		for rest != "" {
			runtime.ReadMemStats(&ms)
			before, start := ms.Mallocs, time.Now()
			m.Allowed(v, mask)
			spent += time.Since(start)
			runtime.ReadMemStats(&ms)
			mallocs += ms.Mallocs - before
			best := -1
			for id, p := range pieces {
				if mask[id>>6]&(1<<(id&63)) != 0 && strings.HasPrefix(rest, p) && (best < 0 || len(p) > len(pieces[best])) {
					best = id
				}
			}
			if best < 0 {
				b.Fatalf("no allowed token continues %q", rest)
			}
			start = time.Now()
			m.AcceptToken(pieces[best])
			spent += time.Since(start)
			rest = rest[len(pieces[best]):]
			tokens++
		}
		if !m.CanEnd() {
			b.Fatal("the text is not a sentence")
		}
	}
	for i := 0; i < b.N; i++ {
		run()
	}
	b.ReportMetric(spent.Seconds()*1e3/float64(tokens), "ms/token")
	b.ReportMetric(float64(mallocs)/float64(tokens), "allocs/token")
	b.ReportMetric(float64(tokens)/float64(b.N), "tokens")
}

const nestedSchema = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},
"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["street","city"]},
"tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":5},"scores":{"type":"array","items":{"type":"number"}}},"required":["name","age","address"]}`

const nestedText = `{"name": "Ada Lovelace", "age": 36, "address": {"street": "12 St James's Square", "city": "London", "zip": "12345"}, "tags": ["red", "blue"], "scores": [1.5, 2, 3.25]}`

// Masking cost per generated token with a 128k vocabulary: any JSON
// value, and a schema with nested objects, arrays, enums and a pattern.
func BenchmarkMaskJSON(b *testing.B) {
	g, err := grammar.FromSchema([]byte(`{}`))
	if err != nil {
		b.Fatal(err)
	}
	benchMask(b, g, nestedText)
}

func BenchmarkMaskSchema(b *testing.B) {
	g, err := grammar.FromSchema([]byte(nestedSchema))
	if err != nil {
		b.Fatal(err)
	}
	benchMask(b, g, nestedText)
}
