package engine

import (
	"math/rand/v2"
	"testing"
)

// Sampling a token allocates nothing (it runs once per generated token).
func TestSampleAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 32000)
	work := make([]float32, len(logits))
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	opts := DefaultSampleOptions()
	opts.RepeatPenalty = 1.1
	s := newSampler(len(logits), opts)
	for i := 0; i < 64; i++ {
		s.accept(int32(i), true)
	}
	allocs := testing.AllocsPerRun(50, func() {
		copy(work, logits)
		s.accept(s.sample(work), true)
	})
	if allocs != 0 {
		t.Errorf("sampling allocates %v times per token", allocs)
	}
}
