package model

import (
	"math"

	"github.com/shimmer-llm/shimmer/kernels"
)

// sparseFeedForward runs a mixture-of-experts feed-forward block on the
// normed rows s.XB (Mixtral's, as llama.cpp computes it): the router's
// logits, their softmax over all experts, the ExpertsUsed most probable
// experts with their probabilities renormalised to sum 1, and the sum of
// those experts' SwiGLU outputs weighted by them, in the order chosen.
// The output replaces s.XB.
func (d *Decoder) sparseFeedForward(s *State, l *Layer, n int) {
	h := d.H
	e, ff, ne, k := h.Embd, h.FF, h.Experts, h.ExpertsUsed
	logits := s.moeLogits[:n*ne]
	s.MatMul(l.Router, s.XB, n, logits)
	out := s.Out[:n*e]
	for t := 0; t < n; t++ {
		p := logits[t*ne : (t+1)*ne]
		kernels.Softmax(p)
		chosen := s.moeChosen[:k]
		topK(p, chosen)
		var sum float32
		for _, c := range chosen {
			sum += p[c]
		}
		x := s.XB[t*e : (t+1)*e]
		o := out[t*e : (t+1)*e]
		for i, c := range chosen {
			w := p[c] / sum
			g, u := s.FF1[:ff], s.FF2[:ff]
			s.MatMul3(l.ExpGate[c], l.ExpUp[c], nil, x, 1, g, u, nil)
			kernels.SwiGLU(g, g, u)
			y := s.moeY[:e]
			s.MatMul(l.ExpDown[c], g, 1, y)
			if i == 0 {
				for j := range o {
					o[j] = y[j] * w
				}
			} else {
				for j := range o {
					o[j] += y[j] * w
				}
			}
		}
	}
	copy(s.XB[:n*e], out)
}

// topK writes to chosen the indices of the len(chosen) largest p, largest
// first (ties: the lower index).
func topK(p []float32, chosen []int) {
	for i := range chosen {
		best, bv := -1, float32(math.Inf(-1))
		for j, v := range p {
			if (best < 0 || v > bv) && !taken(chosen[:i], j) {
				best, bv = j, v
			}
		}
		chosen[i] = best
	}
}

func taken(c []int, j int) bool {
	for _, x := range c {
		if x == j {
			return true
		}
	}
	return false
}
