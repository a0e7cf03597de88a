package sampling

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// caseParams are the parameters of each case of
// testdata/llama-cpp-samples.json (see testdata/README.md): llama.cpp's
// defaults with one change each.
func caseParams(name string, seed uint32) Params {
	p := DefaultParams(seed)
	switch name {
	case "penalties":
		p.PenaltyRepeat, p.PenaltyFreq, p.PenaltyPresent = 1.1, 0.1, 0.2
	case "notopk":
		p.TopK, p.TopP = 0, 0.9
	case "typical":
		p.TypicalP = 0.9
	case "xtc":
		p.XTCProbability, p.XTCThreshold = 0.5, 0.1
	case "sigma":
		p.TopNSigma = 1
	case "dynatemp":
		p.DynatempRange, p.DynatempExponent = 0.5, 1
	case "mirostat1":
		p.Mirostat = 1
	case "mirostat2":
		p.Mirostat = 2
	case "greedy":
		p.Temp = 0
	case "dry":
		p.DRYMultiplier, p.DRYPenaltyLastN = 0.8, 64
	case "dry-all":
		p.DRYMultiplier, p.DRYBase, p.DRYAllowedLength, p.DRYPenaltyLastN = 1.5, 2, 1, -1
	case "dry-breakers":
		p.DRYMultiplier, p.DRYPenaltyLastN = 0.8, 200
	case "dry-penalties":
		p.DRYMultiplier, p.DRYAllowedLength, p.DRYPenaltyLastN, p.PenaltyRepeat = 0.5, 3, 32, 1.1
	}
	return p
}

// dryVocab gives the DRY cases what llama.cpp's dry sampler takes from
// stories260K: its training context and its breakers processed over its
// vocabulary (pieces as llama_detokenize writes one token, tails
// tokenized without special tokens).
func dryVocab(t *testing.T, p *Params, name string) {
	if p.DRYMultiplier == 0 {
		return
	}
	f, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := f.GetInt("llama.context_length", 0)
	if err != nil || ctx == 0 {
		t.Fatalf("context length %d %v", ctx, err)
	}
	p.DRYContext = int(ctx)
	breakers := DefaultDRYBreakers
	if name == "dry-breakers" {
		breakers = []string{"the", " and", "ily"}
	}
	p.DRYBreakers = ProcessBreakers(breakers, tok.NumTokens(),
		func(id int32) string { return tok.Detokenize([]int32{id}, true) },
		func(s string) []int32 { return tok.Encode(s, false, false) })
}

// The chain draws, token for token, the 1000 tokens llama.cpp's chain
// draws at the reference commit from the same logits rows (stories260K's
// prompt logits, row i mod 24 at step i) with the same seed, every
// drawn token accepted: the default chain and one variant per sampler,
// three seeds each.
func TestMatchesLlamaCpp(t *testing.T) {
	b, err := os.ReadFile("testdata/llama-cpp-samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Case string
		Seed uint32
		IDs  []int32
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	rows, err := testdata.ReadF32Rows(testdata.Path(t, "reference", "stories260K.ids.logits.f32"), 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 42 {
		t.Fatalf("%d cases", len(cases))
	}
	logits := make([]float32, 512)
	for _, c := range cases {
		p := caseParams(c.Case, c.Seed)
		dryVocab(t, &p, c.Case)
		ch, err := NewChain(p, 512)
		if err != nil {
			t.Fatal(err)
		}
		same := 0
		for i, want := range c.IDs {
			copy(logits, rows[i%len(rows)])
			got := ch.Sample(logits)
			ch.Accept(got)
			if got != want {
				t.Errorf("%s seed %d: token %d is %d, llama.cpp drew %d (%d agreed before)", c.Case, c.Seed, i, got, want, same)
				break
			}
			same++
		}
	}
}

// std::mt19937's 10000th output from the default seed is 4123659995 (the
// C++ standard's check value).
func TestMT19937(t *testing.T) {
	m := NewMT19937(5489)
	var v uint32
	for i := 0; i < 10000; i++ {
		v = m.Uint32()
	}
	if v != 4123659995 {
		t.Fatalf("10000th output %d", v)
	}
}

// A logit bias is llama.cpp's logit_bias sampler at the head of the chain:
// the chain with a bias draws, seed for seed, what the chain without it
// draws from logits with the bias added by hand; a bias of -Inf bans the
// most likely token from every draw.
func TestLogitBias(t *testing.T) {
	const n = 64
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)*1.7)) * 3
	}
	top := 0
	for i, l := range logits {
		if l > logits[top] {
			top = i
		}
	}
	bias := []Bias{{ID: 5, Bias: 2.5}, {ID: 9, Bias: -1}, {ID: 5, Bias: 0.5}, {ID: int32(top), Bias: float32(math.Inf(-1))}}
	by := slices.Clone(logits)
	for _, b := range bias {
		by[b.ID] += b.Bias
	}
	for _, seed := range []uint32{1, 42, 1234} {
		p := DefaultParams(seed)
		p.PenaltyLastN = 0
		plain, err := NewChain(p, n)
		if err != nil {
			t.Fatal(err)
		}
		p.LogitBias = bias
		biased, err := NewChain(p, n)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			a, b := biased.Sample(logits), plain.Sample(by)
			if a != b || a == int32(top) {
				t.Fatalf("seed %d draw %d: biased chain %d, chain on biased logits %d (banned %d)", seed, i, a, b, top)
			}
		}
	}
	p := DefaultParams(1)
	p.LogitBias = []Bias{{ID: n, Bias: 1}}
	if _, err := NewChain(p, n); err == nil {
		t.Error("a bias outside the vocabulary was accepted")
	}
}
