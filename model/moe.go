package model

import (
	"math"

	"github.com/shimmer-llm/shimmer/kernels"
)

// sparseFeedForward runs a mixture-of-experts feed-forward block on the
// normed rows s.XB as llama.cpp computes it: the router's logits (plus its
// bias), the ExpertsUsed experts of each token and their weights (see
// route), and the sum of the chosen experts' gated outputs, each times its
// weight, in the order chosen. The output replaces s.XB.
//
// Rows are grouped by expert: each expert used by the batch runs once, as
// one matrix product over the rows of the tokens that chose it (a prompt
// stays a GEMM; a decode step reads only the chosen experts' weights).
// Every output row depends only on its own input row, so the result is
// that of one token at a time.
func (d *Decoder) sparseFeedForward(s *State, l *Layer, n int) {
	h := d.H
	e, ff, ne, k := h.Embd, h.FF, h.Experts, h.ExpertsUsed
	logits := s.moeLogits[:n*ne]
	s.MatMul(l.Router, s.XB, n, logits)
	if l.RouterBias != nil {
		AddBias(logits, l.RouterBias, n)
	}
	sel, wts := s.moeSel[:n*k], s.moeW[:n*k]
	for t := 0; t < n; t++ {
		route(l.Gating, logits[t*ne:(t+1)*ne], sel[t*k:(t+1)*k], wts[t*k:(t+1)*k])
	}
	// Counting sort of the (token, slot) entries by expert.
	start := s.moeStart[:ne+1]
	clear(start)
	for _, c := range sel {
		start[c+1]++
	}
	for x := 0; x < ne; x++ {
		start[x+1] += start[x]
	}
	next := s.moeNext[:ne]
	copy(next, start[:ne])
	order := s.moeOrder[:n*k]
	for i, c := range sel {
		order[next[c]] = int32(i)
		next[c]++
	}
	slots := s.moeSlots[:n*k*e]
	for x := 0; x < ne; x++ {
		entries := order[start[x]:start[x+1]]
		c := len(entries)
		if c == 0 {
			continue
		}
		xs := s.moeX[:c*e]
		for r, i := range entries {
			t := int(i) / k
			copy(xs[r*e:(r+1)*e], s.XB[t*e:(t+1)*e])
		}
		g, u := s.FF1[:c*ff], s.FF2[:c*ff]
		s.MatMul3(l.ExpGate[x], l.ExpUp[x], nil, xs, c, g, u, nil)
		if l.ExpGateBias != nil {
			AddBias(g, l.ExpGateBias[x], c)
			AddBias(u, l.ExpUpBias[x], c)
		}
		switch d.Act {
		case ActSwiGLUOAI:
			kernels.SwiGLUOAI(g, g, u, 1.702, 7)
		case ActGELU:
			GeGLU(g, g, u)
		default:
			kernels.SwiGLU(g, g, u)
		}
		y := s.moeY[:c*e]
		s.MatMul(l.ExpDown[x], g, c, y)
		if l.ExpDownBias != nil {
			AddBias(y, l.ExpDownBias[x], c)
		}
		for r, i := range entries {
			copy(slots[int(i)*e:(int(i)+1)*e], y[r*e:(r+1)*e])
		}
	}
	out := s.XB[:n*e]
	for t := 0; t < n; t++ {
		o := out[t*e : (t+1)*e]
		for j := 0; j < k; j++ {
			w, y := wts[t*k+j], slots[(t*k+j)*e:(t*k+j+1)*e]
			if j == 0 {
				for i := range o {
					o[i] = y[i] * w
				}
			} else {
				for i := range o {
					o[i] += y[i] * w
				}
			}
		}
	}
}

// route picks the experts of one token from its router logits p (which
// it may overwrite) into sel, largest first, and their weights into w:
// GateSoftmax takes the softmax over all experts and renormalises the
// chosen probabilities to sum 1 (the sum clamped below at 2^-14, as
// llama.cpp); GateTopKSoftmax takes the largest raw logits and a softmax
// over them alone.
func route(g Gating, p []float32, sel []int32, w []float32) {
	if g == GateSoftmax {
		kernels.Softmax(p)
	}
	topK(p, sel)
	for i, c := range sel {
		w[i] = p[c]
	}
	if g == GateTopKSoftmax {
		kernels.Softmax(w)
		return
	}
	var sum float32
	for _, v := range w {
		sum += v
	}
	sum = max(sum, 6.103515625e-5)
	for i := range w {
		w[i] /= sum
	}
}

// topK writes to chosen the indices of the len(chosen) largest p, largest
// first (ties: the lower index).
func topK(p []float32, chosen []int32) {
	for i := range chosen {
		best, bv := -1, float32(math.Inf(-1))
		for j, v := range p {
			if (best < 0 || v > bv) && !taken(chosen[:i], j) {
				best, bv = j, v
			}
		}
		chosen[i] = int32(best)
	}
}

func taken(c []int32, j int) bool {
	for _, x := range c {
		if int(x) == j {
			return true
		}
	}
	return false
}
