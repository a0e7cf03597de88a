package sampling

import (
	"math"
	"slices"
)

// Each sampler below is the llama.cpp one of the same name
// (src/llama-sampler.cpp at the reference commit), step for step: the
// same float32 or float64 arithmetic, the same sorting and truncation of
// the candidates.

func (c *Chain) penalties(cand *Candidates) {
	p := &c.p
	if p.PenaltyLastN == 0 || (p.PenaltyRepeat == 1 && p.PenaltyFreq == 0 && p.PenaltyPresent == 0) {
		return
	}
	for i := range cand.Data {
		t := &cand.Data[i]
		n := c.counts[t.ID]
		if n == 0 {
			continue
		}
		if t.Logit <= 0 {
			t.Logit *= p.PenaltyRepeat
		} else {
			t.Logit /= p.PenaltyRepeat
		}
		present := float32(0)
		if n > 0 {
			present = 1
		}
		t.Logit -= float32(n)*p.PenaltyFreq + present*p.PenaltyPresent
	}
	cand.Sorted = false
}

func (c *Chain) topNSigma(cand *Candidates) {
	n := c.p.TopNSigma
	d := cand.Data
	if n <= 0 || len(d) <= 1 {
		return
	}
	inf := float32(math.Inf(-1))
	maxL := d[0].Logit
	var sum float32
	valid := 0
	for _, t := range d {
		if t.Logit != inf {
			maxL = max(maxL, t.Logit)
			sum += t.Logit
			valid++
		}
	}
	mean := float32(0)
	if valid > 0 {
		mean = sum / float32(valid)
	}
	var acc float32
	for _, t := range d {
		if t.Logit != inf {
			dv := float64(t.Logit - mean)
			acc = float32(float64(acc) + dv*dv)
		}
	}
	std := float32(0)
	if valid > 0 {
		std = float32(math.Sqrt(float64(acc / float32(valid))))
	}
	for i := range d {
		if d[i].Logit < maxL-n*std {
			d[i].Logit = inf
		}
	}
}

func topK(cand *Candidates, k int) {
	if k <= 0 {
		return
	}
	k = min(k, len(cand.Data))
	if !cand.Sorted {
		cand.sortTop(k)
	}
	cand.Data = cand.Data[:k]
}

func (c *Chain) typical(cand *Candidates) {
	p := c.p.TypicalP
	if p >= 1 {
		return
	}
	cand.softmax(true)
	d := cand.Data
	var entropy float32
	for _, t := range d {
		entropy += -t.P * logf(t.P)
	}
	if cap(c.sigma) < len(d) {
		c.sigma = make([]float32, len(d))
		c.order2 = make([]int32, len(d))
	}
	scores, idx := c.sigma[:len(d)], c.order2[:len(d)]
	for i, t := range d {
		scores[i] = float32(math.Abs(float64(-logf(t.P) - entropy)))
		idx[i] = int32(i)
	}
	// std::sort by score (ties: by position, where std::sort has an order
	// of its own).
	slices.SortStableFunc(idx, func(a, b int32) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var cum float32
	last := len(idx)
	minKeep := c.p.MinKeep
	for i, j := range idx {
		cum += d[j].P
		if cum > p && (minKeep == 0 || i >= minKeep-1) {
			last = i + 1
			break
		}
	}
	if cap(c.kept) < last {
		c.kept = make([]Token, len(d))
	}
	kept := c.kept[:last]
	for i := range kept {
		kept[i] = d[idx[i]]
	}
	copy(d, kept)
	cand.Data = d[:last]
	cand.Sorted = false
}

func (c *Chain) topP(cand *Candidates) {
	p := c.p.TopP
	if p >= 1 {
		return
	}
	cand.softmax(false)
	// The cumulative sum runs over the tokens in descending order, as
	// llama.cpp's: a large unsorted set sorts its first 256 and sorts the
	// rest only if they are not enough.
	d := cand.Data
	sortedTo := len(d)
	if !cand.Sorted {
		sortedTo = min(len(d), 256)
		if len(d) <= 1024 {
			sortedTo = len(d)
		}
		cand.sortFront(sortedTo)
	}
	var cum float32
	last := len(d)
	for i := 0; i < len(d); i++ {
		if i == sortedTo {
			cand.sortFront(len(d))
			sortedTo = len(d)
		}
		cum += d[i].P
		if cum >= p && i+1 >= c.p.MinKeep {
			last = i + 1
			break
		}
	}
	if sortedTo < last {
		cand.sortFront(len(d))
	}
	cand.Data, cand.Sorted = d[:last], true
}

func (c *Chain) minP(cand *Candidates) {
	p := c.p.MinP
	d := cand.Data
	if p <= 0 || len(d) == 0 {
		return
	}
	if !cand.Sorted {
		maxL := float32(-math.MaxFloat32)
		for _, t := range d {
			maxL = max(maxL, t.Logit)
		}
		minL := maxL + logf(p)
		n := 0
		for _, t := range d {
			if t.Logit >= minL {
				n++
			}
		}
		if n > 0 && n >= c.p.MinKeep {
			k := 0
			for _, t := range d {
				if t.Logit >= minL {
					d[k] = t
					k++
				}
			}
			cand.Data = d[:k]
			return
		}
		cand.sortTop(len(d))
		d = cand.Data
	}
	minL := d[0].Logit + logf(p)
	i := 1
	for ; i < len(d); i++ {
		if d[i].Logit < minL && i >= c.p.MinKeep {
			break
		}
	}
	cand.Data = d[:i]
}

func (c *Chain) xtc(cand *Candidates) {
	p := &c.p
	if p.XTCProbability <= 0 || p.XTCThreshold > 0.5 || len(cand.Data) < 2 {
		return
	}
	if c.xtcRNG.Float32() > p.XTCProbability {
		return
	}
	cand.softmax(true)
	d := cand.Data
	last := 0
	for i, t := range d {
		if t.P >= p.XTCThreshold {
			last = i
		} else {
			break
		}
	}
	if len(d)-last >= p.MinKeep && last > 0 {
		cand.Data = d[last:]
	}
}

// temp is llama_sampler_temp_impl.
func (c *Chain) temp(cand *Candidates, temp float32) {
	d := cand.Data
	if temp <= 0 {
		// Keep the largest logit, the rest -inf.
		maxI, maxL := 0, d[0].Logit
		inf := float32(math.Inf(-1))
		for i := 1; i < len(d); i++ {
			if d[i].Logit > maxL {
				d[maxI].Logit = inf
				maxI, maxL = i, d[i].Logit
			} else {
				d[i].Logit = inf
			}
		}
		return
	}
	for i := range d {
		d[i].Logit /= temp
	}
}

func (c *Chain) tempExt(cand *Candidates) {
	p := &c.p
	if p.DynatempRange <= 0 {
		c.temp(cand, p.Temp)
		return
	}
	minT := max(0, p.Temp-p.DynatempRange)
	maxT := p.Temp + p.DynatempRange
	if len(cand.Data) <= 1 {
		return
	}
	maxEntropy := -logf(1 / float32(len(cand.Data)))
	cand.softmax(true)
	d := cand.Data
	var entropy float32
	for _, t := range d {
		if t.P > 0 {
			entropy -= t.P * logf(t.P)
		}
	}
	norm := entropy / maxEntropy
	dyn := minT + (maxT-minT)*powf(norm, p.DynatempExponent)
	c.temp(cand, dyn)
	maxL := float64(d[0].Logit)
	var sum float64
	for i := range d {
		e := math.Exp(float64(d[i].Logit) - maxL)
		d[i].P = float32(e)
		sum += e
	}
	for i := range d {
		d[i].P = float32(float64(d[i].P) / sum)
	}
}

// dist is llama_sampler_dist_apply: the softmax with its sum in float64,
// one uniform draw, the first token whose running sum reaches draw × sum.
func (c *Chain) dist(cand *Candidates) {
	d := cand.Data
	if len(d) == 0 {
		cand.Selected = -1
		return
	}
	cand.Selected = 0
	if len(d) == 1 {
		d[0].P = 1
		return
	}
	maxL := d[0].Logit
	if !cand.Sorted {
		for _, t := range d[1:] {
			maxL = max(maxL, t.Logit)
		}
	}
	var sum float64
	for i := range d {
		p := expf(d[i].Logit - maxL)
		d[i].P = p
		sum += float64(p)
	}
	target := sum * c.rng.Float64()
	var run float64
	found := false
	for i := range d {
		if !found {
			run += float64(d[i].P)
			if run >= target {
				cand.Selected, found = i, true
			}
		}
		d[i].P = float32(float64(d[i].P) / sum)
	}
	if !found {
		cand.Selected = len(d) - 1
	}
}

// discrete is llama_sample_dist: std::discrete_distribution over the
// candidates' probabilities (libstdc++: normalised in float64, partial
// sums with the last set to 1, the first reaching the draw).
func (c *Chain) discrete(cand *Candidates) int {
	d := cand.Data
	if len(d) < 2 {
		return 0
	}
	var sum float64
	for _, t := range d {
		sum += float64(t.P)
	}
	u := c.rng.Float64()
	var cum float64
	for i, t := range d[:len(d)-1] {
		cum += float64(t.P) / sum
		if cum >= u {
			return i
		}
	}
	return len(d) - 1
}

func (c *Chain) mirostat1(cand *Candidates) {
	cand.softmax(true)
	d := cand.Data
	const m = 100
	var sumTB, sumTT float32
	for i := 0; i < m-1 && i < len(d)-1; i++ {
		ti := logf(float32(i+2) / float32(i+1))
		bi := logf(d[i].P / d[i+1].P)
		sumTB += ti * bi
		sumTT += ti * ti
	}
	sHat := sumTB / sumTT
	eps := sHat - 1
	k := powf((eps*powf(2, c.mu))/(1-powf(float32(c.nVocab), -eps)), 1/sHat)
	topK(cand, max(cInt(k), 1))
	cand.softmax(true)
	idx := c.discrete(cand)
	cand.Selected = idx
	e := -log2f(cand.Data[idx].P) - c.p.MirostatTau
	c.mu = c.mu - c.p.MirostatEta*e
}

func (c *Chain) mirostat2(cand *Candidates) {
	cand.softmax(true)
	d := cand.Data
	n := len(d)
	for i, t := range d {
		if -log2f(t.P) > c.mu {
			n = i
			break
		}
	}
	if n == 0 {
		n = 1
	}
	cand.Data = d[:n]
	cand.softmax(true)
	idx := c.discrete(cand)
	cand.Selected = idx
	e := -log2f(cand.Data[idx].P) - c.p.MirostatTau
	c.mu = c.mu - c.p.MirostatEta*e
}

// cInt is C's int(f) as x86 computes it (cvttss2si): truncation, and
// INT_MIN for NaN and values out of int32's range (when mirostat's k
// overflows, llama.cpp keeps one token).
func cInt(f float32) int {
	if f != f || f >= 2147483648 || f < -2147483648 {
		return math.MinInt32
	}
	return int(int32(f))
}
