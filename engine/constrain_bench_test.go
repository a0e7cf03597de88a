package engine

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/grammar"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

const benchSchema = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},
"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["street","city"]},
"tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":5},"scores":{"type":"array","items":{"type":"number"}}},"required":["name","age","address"]}`

const benchText = `{"name": "Ada Lovelace", "age": 36, "address": {"street": "12 St James's Square", "city": "London", "zip": "12345"}, "tags": ["red", "blue"], "scores": [1.5, 2, 3.25]}`

// benchConstrained samples benchText token by token under a grammar with
// the 128k-token Llama 3 vocabulary and llama.cpp's default sampling: the
// logits are noise, plus a margin for the longest token that continues the
// text, as from a model that follows the schema (margin 0: a model that
// does not, the worst case). Each run starts a new constraint, as a request
// does. It reports the constrained sampling time and allocations per token.
func benchConstrained(b *testing.B, schema string, margin float32) {
	benchConstrainedText(b, schema, benchText, margin)
}

func benchConstrainedText(b *testing.B, schema, text string, margin float32) {
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
	v := grammar.NewVocab(pieces)
	g, err := grammar.FromSchema([]byte(schema))
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, len(pieces))
	var spent time.Duration
	var tokens int
	var mallocs uint64
	var ms runtime.MemStats
	for i := 0; i < b.N; i++ {
		c := &constraint{m: g.NewMatcher(), v: v, isEOG: tok.IsEOG, mask: make([]uint64, v.MaskWords())}
		s := newSampler(len(pieces), DefaultSampleOptions())
		rest := text
		for steps := 0; rest != "" && steps < 400; steps++ {
			best := -1
			for id, p := range pieces {
				if p != "" && strings.HasPrefix(rest, p) && (best < 0 || len(p) > len(pieces[best])) && c.m.Accepts(p) {
					best = id
				}
			}
			for id := range logits {
				logits[id] = float32(r.NormFloat64())
			}
			if best >= 0 {
				logits[best] += margin
			}
			runtime.ReadMemStats(&ms)
			before, start := ms.Mallocs, time.Now()
			id, ok := s.sampleAllowed(logits, c)
			if ok && !tok.IsEOG(id) {
				c.m.AcceptToken(pieces[id])
			}
			spent += time.Since(start)
			runtime.ReadMemStats(&ms)
			mallocs += ms.Mallocs - before
			tokens++
			if !ok || tok.IsEOG(id) {
				break
			}
			if strings.HasPrefix(rest, pieces[id]) {
				rest = rest[len(pieces[id]):]
			} else {
				rest = "" // the sample left the text: stop this run
			}
		}
	}
	b.ReportMetric(spent.Seconds()*1e3/float64(tokens), "ms/token")
	b.ReportMetric(float64(mallocs)/float64(tokens), "allocs/token")
}

func BenchmarkConstrainedFollowing(b *testing.B)     { benchConstrained(b, benchSchema, 12) }
func BenchmarkConstrainedJSONFollowing(b *testing.B) { benchConstrained(b, `{}`, 12) }
func BenchmarkConstrainedNoise(b *testing.B)         { benchConstrained(b, benchSchema, 0) }

// BenchmarkSample128k: unconstrained sampling (llama.cpp's defaults) of a
// 128k vocabulary, the baseline of the constrained figures.
func BenchmarkSample128k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 128256)
	work := make([]float32, len(logits))
	for i := range logits {
		logits[i] = float32(r.NormFloat64())
	}
	s := newSampler(len(logits), DefaultSampleOptions())
	b.ReportAllocs()
	for b.Loop() {
		copy(work, logits)
		s.sample(work)
	}
}

// Inside one long string the grammar's state repeats: the steady state.
func BenchmarkConstrainedStringSteady(b *testing.B) {
	benchConstrainedText(b, `{"type":"string"}`, `"`+strings.Repeat("the little dog ran to the park and played with a red ball. ", 20)+`"`, 12)
}
