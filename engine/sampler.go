package engine

import (
	"slices"

	"github.com/shimmer-llm/shimmer/sampling"
)

// SampleOptions choose the next token from the logits. The zero value is
// greedy decoding; DefaultSampleOptions gives llama.cpp's defaults.
type SampleOptions struct {
	// Temperature ≤ 0 is greedy: always the most likely token (the lowest
	// id on ties).
	Temperature float32
	TopK        int     // keep the K most likely tokens (0: all)
	TopP        float32 // keep the smallest set with probability ≥ TopP (1: all)
	MinP        float32 // drop tokens below MinP × the top probability (0: none)
	// RepeatPenalty divides positive (multiplies negative) logits of the
	// tokens among the last RepeatLastN (1: off).
	RepeatPenalty float32
	RepeatLastN   int
	// PresencePenalty and FrequencyPenalty subtract from the logits of
	// the tokens among the last RepeatLastN, once and per occurrence (as
	// llama.cpp's penalties sampler; prompt tokens count too).
	PresencePenalty  float32
	FrequencyPenalty float32
	// TypicalP keeps the locally typical tokens up to this mass (0 or 1:
	// off).
	TypicalP float32
	// XTCProbability is the chance, per token, that XTC removes the
	// likeliest tokens above XTCThreshold but the last of them (0: off;
	// threshold 0: llama.cpp's 0.1).
	XTCProbability, XTCThreshold float32
	// TopNSigma keeps the tokens within n standard deviations of the top
	// logit (≤ 0: off).
	TopNSigma float32
	// DynatempRange makes the temperature vary by ± this with the
	// entropy, to the power DynatempExponent (0: llama.cpp's 1).
	DynatempRange, DynatempExponent float32
	// Mirostat 1 or 2 replaces the chain by mirostat with target surprise
	// MirostatTau and learning rate MirostatEta (0: llama.cpp's 5 and 0.1).
	Mirostat                 int
	MirostatTau, MirostatEta float32
	// Samplers is the chain's order (nil: llama.cpp's default:
	// penalties, DRY, top-n-σ, top-k, typical, top-p, min-p, XTC,
	// temperature).
	Samplers []sampling.Kind
	// DRY penalises tokens that would extend a repeat of earlier text by
	// DRYMultiplier × DRYBase^(length − DRYAllowedLength) (multiplier 0:
	// off; base 0: llama.cpp's 1.75), looking at the last DRYPenaltyLastN
	// tokens (≤ 0: the whole context); DRYBreakers (nil: llama.cpp's "\n",
	// ":", "\"", "*") end the repeats it looks at.
	DRYMultiplier    float32
	DRYBase          float32
	DRYAllowedLength int
	DRYPenaltyLastN  int
	DRYBreakers      []string
	// LogitBias is added to the logits before the chain (-Inf bans a
	// token), as llama.cpp's logit_bias sampler.
	LogitBias []sampling.Bias
	// Seed of the random generator: the same seed gives the same text,
	// and the text llama-server gives for that seed (its low 32 bits:
	// llama.cpp seeds std::mt19937 with a uint32).
	Seed uint64
}

// DefaultSampleOptions are llama.cpp's defaults.
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64,
		DRYBase: sampling.DefaultDRYBase, DRYAllowedLength: sampling.DefaultDRYAllowedLength}
}

// sampler is one sequence's llama.cpp sampler chain (sampling.Chain):
// the same seed on the same logits draws the tokens llama-server draws.
type sampler struct {
	opts  SampleOptions
	chain *sampling.Chain
}

// SamplingParams are the llama.cpp sampling parameters the options stand
// for (the ones the chain runs with; llama-server reports them as
// generation_settings).
func SamplingParams(o SampleOptions) sampling.Params { return chainParams(o) }

// chainParams maps the options onto llama.cpp's parameters. Zero values
// that llama.cpp would read as "keep one token" (top-p 0) or as a
// penalty of 0 mean "off" here, as they always have.
func chainParams(o SampleOptions) sampling.Params {
	p := sampling.DefaultParams(uint32(o.Seed))
	p.Temp, p.TopK, p.MinP = o.Temperature, o.TopK, o.MinP
	p.TopP = o.TopP
	if p.TopP <= 0 {
		p.TopP = 1
	}
	p.PenaltyRepeat = o.RepeatPenalty
	if p.PenaltyRepeat <= 0 {
		p.PenaltyRepeat = 1
	}
	p.PenaltyLastN = max(0, o.RepeatLastN)
	p.PenaltyFreq, p.PenaltyPresent = o.FrequencyPenalty, o.PresencePenalty
	if o.TypicalP > 0 {
		p.TypicalP = o.TypicalP
	}
	p.XTCProbability = o.XTCProbability
	if o.XTCThreshold > 0 {
		p.XTCThreshold = o.XTCThreshold
	}
	if o.TopNSigma != 0 {
		p.TopNSigma = o.TopNSigma
	}
	p.DynatempRange = o.DynatempRange
	if o.DynatempExponent != 0 {
		p.DynatempExponent = o.DynatempExponent
	}
	p.Mirostat = o.Mirostat
	if o.MirostatTau != 0 {
		p.MirostatTau = o.MirostatTau
	}
	if o.MirostatEta != 0 {
		p.MirostatEta = o.MirostatEta
	}
	p.Order = o.Samplers
	p.LogitBias = o.LogitBias
	p.DRYMultiplier, p.DRYAllowedLength, p.DRYPenaltyLastN = o.DRYMultiplier, o.DRYAllowedLength, o.DRYPenaltyLastN
	if o.DRYBase != 0 {
		p.DRYBase = o.DRYBase
	}
	if p.DRYPenaltyLastN <= 0 {
		p.DRYPenaltyLastN = -1
	}
	return p
}

// CheckSampleOptions reports options the chain cannot take (a mirostat
// other than 0, 1 or 2); the logit bias, which needs the vocabulary, is
// checked by GenerateTokens (sampling.CheckBias).
func CheckSampleOptions(o SampleOptions) error {
	o.LogitBias = nil
	_, err := sampling.NewChain(chainParams(o), 1)
	return err
}

func newSampler(vocab int, opts SampleOptions) *sampler {
	return newSamplerWith(vocab, opts, chainParams(opts))
}

func newSamplerWith(vocab int, opts SampleOptions, p sampling.Params) *sampler {
	ch, err := sampling.NewChain(p, vocab)
	if err != nil {
		// chainParams asks for nothing NewChain refuses.
		panic(err)
	}
	return &sampler{opts: opts, chain: ch}
}

// chainParamsFor is chainParams with what DRY needs of the engine: the
// sequence's context (a last n of -1; llama-server's n_ctx_slot), the
// model's training context (llama.cpp's total_context_size) and the
// breakers processed over the vocabulary (the defaults' once).
func (e *Engine) chainParamsFor(o SampleOptions) sampling.Params {
	p := chainParams(o)
	if p.DRYMultiplier == 0 {
		return p
	}
	if p.DRYPenaltyLastN == -1 {
		p.DRYPenaltyLastN = e.opts.Context
	}
	p.DRYContext = e.Hyper().CtxTrain
	if p.DRYContext <= 0 {
		p.DRYContext = e.opts.Context
	}
	p.DRYBreakers = e.dryBreakers(o.DRYBreakers)
	return p
}

// dryBreakers processes breakers over the vocabulary (nil: the
// defaults, processed once).
func (e *Engine) dryBreakers(breakers []string) sampling.Breakers {
	process := func(b []string) sampling.Breakers {
		tok := e.tok
		return sampling.ProcessBreakers(b, e.Hyper().Vocab,
			func(id int32) string { return tok.Detokenize([]int32{id}, true) },
			func(s string) []int32 { return tok.Encode(s, false, false) })
	}
	if breakers == nil {
		e.dryOnce.Do(func() { e.dryDefault = process(sampling.DefaultDRYBreakers) })
		return e.dryDefault
	}
	return process(breakers)
}

// accept records a token that is now part of the sequence (prompt or
// generated), as llama-server feeds its sampler every prompt token and
// every generated one: the penalties count the last RepeatLastN.
func (s *sampler) accept(id int32, generated bool) { s.chain.Accept(id) }

// sample picks the next token from logits (left as they are).
func (s *sampler) sample(logits []float32) int32 { return s.chain.Sample(logits) }

// distribution runs the chain on logits but for the draw and returns the
// tokens left, most likely first, with the probabilities the draw uses.
func (s *sampler) distribution(logits []float32) ([]int32, []float32) {
	toks := s.chain.Distribution(logits)
	ids, probs := make([]int32, len(toks)), make([]float32, len(toks))
	for i, t := range toks {
		ids[i], probs[i] = t.ID, t.P
	}
	return ids, probs
}

// argmax returns the index of the largest logit, the lowest index on ties.
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// sortTopK reorders ids so that the k with the largest logits come first,
// sorted descending (ties by lower id).
func sortTopK(ids []int32, logits []float32, k int) {
	less := func(a, b int32) bool {
		if logits[a] != logits[b] {
			return logits[a] > logits[b]
		}
		return a < b
	}
	if k < len(ids) {
		// Quickselect the k largest into the front.
		lo, hi := 0, len(ids)-1
		for lo < hi {
			p := ids[(lo+hi)/2]
			i, j := lo, hi
			for i <= j {
				for less(ids[i], p) {
					i++
				}
				for less(p, ids[j]) {
					j--
				}
				if i <= j {
					ids[i], ids[j] = ids[j], ids[i]
					i++
					j--
				}
			}
			if k-1 <= j {
				hi = j
			} else if k-1 >= i {
				lo = i
			} else {
				break
			}
		}
	}
	// slices.SortFunc, unlike sort.Slice, allocates nothing per token.
	slices.SortFunc(ids[:k], func(a, b int32) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
}
