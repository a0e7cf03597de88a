package reftest

import (
	"fmt"
	"math"
)

// Dist compares two sets of logit rows as a user sees them: as the
// distributions they sample from and the tokens they pick.
type Dist struct {
	Rows      int
	MeanKL    float64 // mean over rows of KL(softmax(ref) ‖ softmax(got)), in nats
	MaxKL     float64
	Top1      int     // rows whose argmax agrees
	WorstDiff float64 // largest |got−ref| over all rows and entries
	WorstRow  int     // the row holding WorstDiff
}

// Top1Rate is the fraction of rows whose argmax agrees.
func (d Dist) Top1Rate() float64 {
	if d.Rows == 0 {
		return 0
	}
	return float64(d.Top1) / float64(d.Rows)
}

func (d Dist) String() string {
	return fmt.Sprintf("worst |Δ| %.2e (row %d), mean KL %.2e (max %.2e), top-1 %d/%d", d.WorstDiff, d.WorstRow, d.MeanKL, d.MaxKL, d.Top1, d.Rows)
}

// Compare measures got against ref row by row (both [rows][vocab]); NaN
// anywhere makes every figure NaN.
func Compare(got, ref [][]float32) Dist {
	d := Dist{Rows: len(ref)}
	if len(got) != len(ref) {
		return Dist{Rows: len(ref), MeanKL: math.NaN(), MaxKL: math.NaN(), WorstDiff: math.NaN()}
	}
	var sum float64
	for i := range ref {
		kl := KL(ref[i], got[i])
		sum += kl
		if kl > d.MaxKL || math.IsNaN(kl) {
			d.MaxKL = kl
		}
		if Argmax(got[i]) == Argmax(ref[i]) {
			d.Top1++
		}
		for j := range ref[i] {
			x := math.Abs(float64(got[i][j]) - float64(ref[i][j]))
			if x > d.WorstDiff || math.IsNaN(x) {
				d.WorstDiff, d.WorstRow = x, i
			}
		}
	}
	if len(ref) > 0 {
		d.MeanKL = sum / float64(len(ref))
	}
	return d
}

// KL returns KL(softmax(p) ‖ softmax(q)) in nats, computed in float64.
func KL(p, q []float32) float64 {
	lp, lq := logSoftmax(p), logSoftmax(q)
	var kl float64
	for i := range lp {
		kl += math.Exp(lp[i]) * (lp[i] - lq[i])
	}
	if kl < 0 { // rounding on identical rows
		kl = 0
	}
	return kl
}

func logSoftmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	ls := m + math.Log(s)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - ls
	}
	return out
}
