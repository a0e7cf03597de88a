package engine

import (
	"math"
	"testing"
)

// The sampling distributions of llama.cpp's own sampler tests
// (tests/test-sampling.cpp at the reference commit): logits log(p) for the
// given probabilities, one sampler at a time, and the probabilities the
// draw then uses, per token id (0: removed), within llama.cpp's 1e-5.
func TestSamplingMatchesLlamaCpp(t *testing.T) {
	base := []float32{0.1, 0.2, 0.3, 0.4}
	off := SampleOptions{Temperature: 1, TopP: 1}
	with := func(f func(*SampleOptions)) SampleOptions { o := off; f(&o); return o }
	cases := []struct {
		name    string
		probs   []float32
		opts    SampleOptions
		history []int32 // tokens already generated (penalties)
		want    []float32
	}{
		{"temp 1", base, off, nil, []float32{0.1, 0.2, 0.3, 0.4}},
		{"temp 0", base, with(func(o *SampleOptions) { o.Temperature = 0 }), nil, []float32{0, 0, 0, 1}},
		{"top_k 1", base, with(func(o *SampleOptions) { o.TopK = 1 }), nil, []float32{0, 0, 0, 1}},
		{"top_k 3", base, with(func(o *SampleOptions) { o.TopK = 3 }), nil, []float32{0, 0.22222, 0.33333, 0.44444}},
		{"top_k 4", base, with(func(o *SampleOptions) { o.TopK = 4 }), nil, []float32{0.1, 0.2, 0.3, 0.4}},
		{"top_k 0", base, with(func(o *SampleOptions) { o.TopK = 0 }), nil, []float32{0.1, 0.2, 0.3, 0.4}},
		// llama.cpp's top_p 0 keeps one token; the API maps 0 to 1e-9.
		{"top_p 0", base, with(func(o *SampleOptions) { o.TopP = 1e-9 }), nil, []float32{0, 0, 0, 1}},
		{"top_p 0.7", base, with(func(o *SampleOptions) { o.TopP = 0.7 }), nil, []float32{0, 0, 0.428571, 0.571429}},
		{"top_p 0.8", base, with(func(o *SampleOptions) { o.TopP = 0.8 }), nil, []float32{0, 0.22222, 0.33333, 0.44444}},
		{"top_p 1", base, with(func(o *SampleOptions) { o.TopP = 1 }), nil, []float32{0.1, 0.2, 0.3, 0.4}},
		{"min_p 0", base, with(func(o *SampleOptions) { o.MinP = 0 }), nil, []float32{0.1, 0.2, 0.3, 0.4}},
		{"min_p 0.24", base, with(func(o *SampleOptions) { o.MinP = 0.24 }), nil, []float32{0.1, 0.2, 0.3, 0.4}},
		{"min_p 0.26", base, with(func(o *SampleOptions) { o.MinP = 0.26 }), nil, []float32{0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9}},
		{"min_p 0.49", base, with(func(o *SampleOptions) { o.MinP = 0.49 }), nil, []float32{0, 0.2 / 0.9, 0.3 / 0.9, 0.4 / 0.9}},
		{"min_p 0.51", base, with(func(o *SampleOptions) { o.MinP = 0.51 }), nil, []float32{0, 0, 0.3 / 0.7, 0.4 / 0.7}},
		{"min_p 0.74", base, with(func(o *SampleOptions) { o.MinP = 0.74 }), nil, []float32{0, 0, 0.3 / 0.7, 0.4 / 0.7}},
		{"min_p 0.76", base, with(func(o *SampleOptions) { o.MinP = 0.76 }), nil, []float32{0, 0, 0, 1}},
		{"min_p 1", base, with(func(o *SampleOptions) { o.MinP = 1 }), nil, []float32{0, 0, 0, 1}},
		{"min_p 1.05", base, with(func(o *SampleOptions) { o.MinP = 1.05 }), nil, []float32{0, 0, 0, 1}},
		// Penalties: llama.cpp's over the window of the last RepeatLastN
		// accepted tokens (its test takes the history's length): repeat
		// divides, frequency and presence subtract count·f + p.
		{"repeat 50 {0}", flat5, with(func(o *SampleOptions) { o.RepeatPenalty, o.RepeatLastN = 50, 1 }), []int32{0}, []float32{0, 0.25, 0.25, 0.25, 0.25}},
		{"repeat 50 {0,1,2}", flat5, with(func(o *SampleOptions) { o.RepeatPenalty, o.RepeatLastN = 50, 3 }), []int32{0, 1, 2}, []float32{0, 0, 0, 0.5, 0.5}},
		{"repeat 50 {0,1,2,0,0}", flat5, with(func(o *SampleOptions) { o.RepeatPenalty, o.RepeatLastN = 50, 5 }), []int32{0, 1, 2, 0, 0}, []float32{0, 0, 0, 0.5, 0.5}},
		{"freq 5 pres 5 {0}", flat5, with(func(o *SampleOptions) { o.FrequencyPenalty, o.PresencePenalty, o.RepeatLastN = 5, 5, 1 }), []int32{0}, []float32{0.000011, 0.249997, 0.249997, 0.249997, 0.249997}},
		{"freq 5 pres 5 {0,1,2}", flat5, with(func(o *SampleOptions) { o.FrequencyPenalty, o.PresencePenalty, o.RepeatLastN = 5, 5, 3 }), []int32{0, 1, 2}, []float32{0.000023, 0.000023, 0.000023, 0.499966, 0.499966}},
		{"freq 5 pres 5 {0,1,2,0,0}", flat5, with(func(o *SampleOptions) { o.FrequencyPenalty, o.PresencePenalty, o.RepeatLastN = 5, 5, 5 }), []int32{0, 1, 2, 0, 0}, []float32{0, 0.000023, 0.000023, 0.499977, 0.499977}},
	}
	for _, c := range cases {
		s := newSampler(len(c.probs), c.opts)
		for _, id := range c.history {
			s.accept(id, true)
		}
		logits := make([]float32, len(c.probs))
		for i, p := range c.probs {
			logits[i] = float32(math.Log(float64(p)))
		}
		ids, probs := s.distribution(logits)
		got := make([]float32, len(c.probs))
		var sum float64
		for i, id := range ids {
			got[id] = probs[i]
			sum += float64(probs[i])
		}
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) >= 1e-5 || math.Abs(sum-1) > 1e-6 {
				t.Errorf("%s: probabilities %v, llama.cpp %v", c.name, got, c.want)
				break
			}
		}
	}
}

var flat5 = []float32{0.2, 0.2, 0.2, 0.2, 0.2}

// Drawing follows the distribution: over many draws each token's share is
// its probability (top-k 3 of 0.1…0.4 → 2/9, 3/9, 4/9), and the same seed
// draws the same tokens.
func TestDrawFrequencies(t *testing.T) {
	o := SampleOptions{Temperature: 1, TopK: 3, TopP: 1, Seed: 42}
	s := newSampler(4, o)
	counts := make([]int, 4)
	const n = 90000
	logits := make([]float32, 4)
	for i := 0; i < n; i++ {
		for j, p := range []float32{0.1, 0.2, 0.3, 0.4} {
			logits[j] = float32(math.Log(float64(p)))
		}
		counts[s.sample(logits)]++
	}
	want := []float64{0, 2.0 / 9, 3.0 / 9, 4.0 / 9}
	for i, c := range counts {
		// 5 standard deviations of a binomial share.
		sd := math.Sqrt(want[i] * (1 - want[i]) / n)
		if got := float64(c) / n; math.Abs(got-want[i]) > 5*sd+1e-12 {
			t.Errorf("token %d drawn %.4f of the time, expected %.4f", i, got, want[i])
		}
	}
}
