package engine

import (
	"math"
	"math/rand/v2"
	"slices"
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
	// tokens already generated, once and per occurrence (OpenAI style).
	PresencePenalty  float32
	FrequencyPenalty float32
	// Seed of the random generator: the same seed gives the same text.
	Seed uint64
}

// DefaultSampleOptions are llama.cpp's defaults.
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64}
}

// sampler holds the buffers of one sequence's sampling, allocated once.
type sampler struct {
	opts   SampleOptions
	rng    *rand.Rand
	ids    []int32
	probs  []float32
	counts map[int32]int // occurrences among penalized tokens
	recent []int32       // ring of the last RepeatLastN tokens
}

func newSampler(vocab int, opts SampleOptions) *sampler {
	s := &sampler{opts: opts, ids: make([]int32, vocab), probs: make([]float32, vocab), counts: map[int32]int{}}
	s.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	return s
}

// accept records a token that is now part of the sequence (prompt or
// generated) for the penalties.
func (s *sampler) accept(id int32, generated bool) {
	if n := s.opts.RepeatLastN; n > 0 && s.opts.RepeatPenalty != 1 {
		if len(s.recent) == n {
			copy(s.recent, s.recent[1:])
			s.recent = s.recent[:n-1]
		}
		s.recent = append(s.recent, id)
	}
	if generated && (s.opts.PresencePenalty != 0 || s.opts.FrequencyPenalty != 0) {
		s.counts[id]++
	}
}

// penalize applies the repetition, presence and frequency penalties to
// logits in place.
func (s *sampler) penalize(logits []float32) {
	if p := s.opts.RepeatPenalty; p != 1 && p > 0 {
		for i, id := range s.recent {
			if indexOf(s.recent[:i], id) >= 0 {
				continue // each distinct token is penalized once
			}
			if logits[id] > 0 {
				logits[id] /= p
			} else {
				logits[id] *= p
			}
		}
	}
	for id, n := range s.counts {
		logits[id] -= float32(n)*s.opts.FrequencyPenalty + s.opts.PresencePenalty
	}
}

// sample picks the next token from logits (which it may modify).
func (s *sampler) sample(logits []float32) int32 {
	s.penalize(logits)
	return s.drawFrom(logits)
}

// drawFrom samples from logits that are already penalized.
func (s *sampler) drawFrom(logits []float32) int32 {
	ids, probs := s.shaped(logits)
	r := s.rng.Float64()
	var acc float64
	for i := range ids {
		acc += float64(probs[i])
		if r < acc {
			return ids[i]
		}
	}
	return ids[len(ids)-1]
}

// distribution applies the penalties and the samplers to logits (which it
// modifies) in llama.cpp's order — top-k, then top-p and min-p on the
// softmax of the logits, then the temperature — and returns the tokens
// left, most likely first, with the probabilities the draw uses (summing
// to 1). Greedy decoding leaves one token.
func (s *sampler) distribution(logits []float32) ([]int32, []float32) {
	s.penalize(logits)
	return s.shaped(logits)
}

// shaped is distribution on logits already penalized.
func (s *sampler) shaped(logits []float32) ([]int32, []float32) {
	o := s.opts
	if o.Temperature <= 0 {
		s.ids[0], s.probs[0] = argmax(logits), 1
		return s.ids[:1], s.probs[:1]
	}
	n := len(logits)
	ids := s.ids[:n]
	for i := range ids {
		ids[i] = int32(i)
	}
	// Top-k: keep the k largest (sorted descending).
	k := n
	if o.TopK > 0 && o.TopK < n {
		k = o.TopK
	}
	sortTopK(ids, logits, k)
	return s.shape(ids[:k], logits)
}

// shape turns the kept tokens ids (sorted by descending logit) into the
// distribution the draw uses: softmax, top-p, min-p, temperature.
func (s *sampler) shape(ids []int32, logits []float32) ([]int32, []float32) {
	o := s.opts
	k := len(ids)
	// Softmax over the kept tokens.
	probs := s.probs[:k]
	maxL := logits[ids[0]]
	var sum float64
	for i, id := range ids {
		p := math.Exp(float64(logits[id] - maxL))
		probs[i] = float32(p)
		sum += p
	}
	for i := range probs {
		probs[i] = float32(float64(probs[i]) / sum)
	}
	// Top-p: the smallest prefix whose mass reaches TopP.
	if o.TopP > 0 && o.TopP < 1 {
		var cum float32
		for i, p := range probs {
			cum += p
			if cum >= o.TopP {
				k = i + 1
				break
			}
		}
		ids, probs = ids[:k], probs[:k]
	}
	// Min-p: drop tokens below MinP × the top probability.
	if o.MinP > 0 {
		limit := probs[0] * o.MinP
		for i, p := range probs {
			if p < limit {
				k = max(1, i)
				break
			}
		}
		ids = ids[:k]
	}
	// Temperature, then normalise.
	maxL = logits[ids[0]]
	sum = 0
	probs = s.probs[:len(ids)]
	for i, id := range ids {
		p := math.Exp(float64((logits[id] - maxL) / o.Temperature))
		probs[i] = float32(p)
		sum += p
	}
	for i := range probs {
		probs[i] = float32(float64(probs[i]) / sum)
	}
	return ids, probs
}

func indexOf(s []int32, x int32) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
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
