package sampling

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Token is one candidate: llama_token_data.
type Token struct {
	ID    int32
	Logit float32
	P     float32
}

// Candidates is llama_token_data_array: the tokens still in the running,
// whether they are sorted by descending logit, and the one selected.
type Candidates struct {
	Data     []Token
	Sorted   bool
	Selected int
	all      []Token // the storage Data is a window of
}

// Reset fills the candidates with every token's logit, unsorted.
func (c *Candidates) Reset(logits []float32) {
	if cap(c.all) < len(logits) {
		c.all = make([]Token, len(logits))
	}
	c.Data = c.all[:len(logits)]
	for i, l := range logits {
		c.Data[i] = Token{ID: int32(i), Logit: l}
	}
	c.Sorted, c.Selected = false, -1
}

// before orders by descending logit; equal logits by ascending id (a
// total order, where llama.cpp's std::partial_sort leaves ties in an
// order of its own).
func before(a, b Token) bool {
	if a.Logit != b.Logit {
		return a.Logit > b.Logit
	}
	return a.ID < b.ID
}

// sortTop puts the k first tokens by descending logit first, sorted, and
// keeps only them (llama_token_data_array_partial_sort_inplace).
func (c *Candidates) sortTop(k int) {
	k = min(k, len(c.Data))
	c.sortFront(k)
	c.Data, c.Sorted = c.Data[:k], true
}

// sortFront puts the k first tokens by descending logit first, sorted,
// leaving the others after them.
func (c *Candidates) sortFront(k int) {
	d := c.Data
	k = min(k, len(d))
	if k < len(d) {
		// Quickselect the k first into the front.
		lo, hi := 0, len(d)-1
		for lo < hi {
			p := d[(lo+hi)/2]
			i, j := lo, hi
			for i <= j {
				for before(d[i], p) {
					i++
				}
				for before(p, d[j]) {
					j--
				}
				if i <= j {
					d[i], d[j] = d[j], d[i]
					i++
					j--
				}
			}
			switch {
			case k-1 <= j:
				hi = j
			case k-1 >= i:
				lo = i
			default:
				lo = hi
			}
		}
	}
	slices.SortFunc(d[:k], func(a, b Token) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
}

// expf is C's expf to float rounding.
func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

func logf(x float32) float32 { return float32(math.Log(float64(x))) }

func log2f(x float32) float32 { return float32(math.Log2(float64(x))) }

func powf(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) }

// softmax is llama_sampler_softmax_impl: p = expf(logit − max) summed in
// float, then divided by the sum.
func (c *Candidates) softmax(sort bool) {
	if sort && !c.Sorted {
		c.sortTop(len(c.Data))
	}
	d := c.Data
	maxL := d[0].Logit
	if !c.Sorted {
		for _, t := range d[1:] {
			maxL = max(maxL, t.Logit)
		}
	}
	var sum float32
	for i := range d {
		p := expf(d[i].Logit - maxL)
		d[i].P = p
		sum += p
	}
	for i := range d {
		d[i].P /= sum
	}
}

// Kind names a sampler of the chain, as llama.cpp's --samplers does.
type Kind string

// The samplers of a chain.
const (
	Penalties   Kind = "penalties"
	DRY         Kind = "dry"
	TopNSigma   Kind = "top_n_sigma"
	TopK        Kind = "top_k"
	Typical     Kind = "typ_p"
	TopP        Kind = "top_p"
	MinP        Kind = "min_p"
	XTC         Kind = "xtc"
	Temperature Kind = "temperature"
)

// DefaultOrder is llama.cpp's default chain (common_params_sampling).
var DefaultOrder = []Kind{Penalties, DRY, TopNSigma, TopK, Typical, TopP, MinP, XTC, Temperature}

// Params are llama.cpp's sampling parameters (common_params_sampling),
// with its defaults in DefaultParams.
type Params struct {
	Seed                 uint32
	TopK                 int
	TopP, MinP, TypicalP float32
	MinKeep              int
	Temp                 float32
	DynatempRange        float32
	DynatempExponent     float32
	PenaltyLastN         int // 0: off; -1 is resolved by the caller (the context size)
	PenaltyRepeat        float32
	PenaltyFreq          float32
	PenaltyPresent       float32
	XTCProbability       float32
	XTCThreshold         float32
	TopNSigma            float32
	// DRY: multiplier 0 disables it; DRYPenaltyLastN -1 stands for
	// DRYContext, the model's training context (llama.cpp's
	// total_context_size), which also bounds the tokens scanned;
	// DRYBreakers are the processed sequence breakers (ProcessBreakers).
	DRYMultiplier    float32
	DRYBase          float32
	DRYAllowedLength int
	DRYPenaltyLastN  int
	DRYContext       int
	DRYBreakers      Breakers
	Mirostat         int // 0 off, 1 or 2
	MirostatTau      float32
	MirostatEta      float32
	// Order is the chain without mirostat (nil: DefaultOrder).
	Order []Kind
	// LogitBias is added to the logits before the chain runs, as
	// llama.cpp's logit_bias sampler at its head (-Inf bans a token).
	LogitBias []Bias
}

// CheckBias reports a bias for a token outside a vocabulary of nVocab
// tokens, or a NaN one.
func CheckBias(bias []Bias, nVocab int) error {
	for _, b := range bias {
		if b.ID < 0 || int(b.ID) >= nVocab {
			return fmt.Errorf("sampling: logit bias for token %d, outside the vocabulary of %d", b.ID, nVocab)
		}
		if b.Bias != b.Bias {
			return fmt.Errorf("sampling: logit bias for token %d is NaN", b.ID)
		}
	}
	return nil
}

// Bias is one token's logit bias.
type Bias struct {
	ID   int32
	Bias float32
}

// DefaultParams are llama.cpp's defaults, with the seed given.
func DefaultParams(seed uint32) Params {
	return Params{Seed: seed, TopK: 40, TopP: 0.95, MinP: 0.05, TypicalP: 1, Temp: 0.8, DynatempExponent: 1,
		PenaltyLastN: 64, PenaltyRepeat: 1, XTCThreshold: 0.1, TopNSigma: -1, MirostatTau: 5, MirostatEta: 0.1,
		DRYBase: DefaultDRYBase, DRYAllowedLength: DefaultDRYAllowedLength, DRYPenaltyLastN: -1}
}

// Chain is one sequence's sampler chain: llama.cpp's samplers in order,
// then dist (or mirostat), with the state they keep between tokens (the
// penalties' recent tokens, the generators, mirostat's mu).
type Chain struct {
	p      Params
	nVocab int
	order  []Kind
	rng    *MT19937 // dist's and mirostat's
	xtcRNG *MT19937
	mu     float32 // mirostat
	// penalties: the last PenaltyLastN accepted tokens (a ring) and
	// their counts.
	prev   []int32
	head   int
	counts []int32 // per token id
	cand   Candidates
	sigma  []float32 // scratch of typical sampling's scores
	order2 []int32   // scratch of typical sampling's order
	kept   []Token   // scratch of typical sampling's result
	dry    dryState
}

// NewChain builds the chain of p for a vocabulary of nVocab tokens.
func NewChain(p Params, nVocab int) (*Chain, error) {
	if p.DRYMultiplier != p.DRYMultiplier || p.DRYPenaltyLastN < -1 || p.DRYAllowedLength < 0 || p.DRYContext > 1<<24 || p.DRYPenaltyLastN > 1<<24 {
		return nil, fmt.Errorf("sampling: DRY multiplier %g, last n %d, allowed length %d, context %d", p.DRYMultiplier, p.DRYPenaltyLastN, p.DRYAllowedLength, p.DRYContext)
	}
	if p.Mirostat < 0 || p.Mirostat > 2 {
		return nil, fmt.Errorf("sampling: mirostat %d (0, 1 or 2)", p.Mirostat)
	}
	order := p.Order
	if order == nil {
		order = DefaultOrder
	}
	for _, k := range order {
		switch k {
		case Penalties, DRY, TopNSigma, TopK, Typical, TopP, MinP, XTC, Temperature:
		default:
			return nil, fmt.Errorf("sampling: unknown sampler %q", k)
		}
	}
	if nVocab <= 0 {
		return nil, fmt.Errorf("sampling: vocabulary of %d tokens", nVocab)
	}
	if err := CheckBias(p.LogitBias, nVocab); err != nil {
		return nil, err
	}
	c := &Chain{p: p, nVocab: nVocab, order: order}
	if c.dryEnabled() {
		c.dry.ring = make([]int32, c.dryLastN())
	}
	if p.PenaltyLastN > 0 {
		c.counts = make([]int32, nVocab)
		c.prev = make([]int32, 0, p.PenaltyLastN)
	}
	c.Reset()
	return c, nil
}

// Reset returns the chain to its state after NewChain: generators
// re-seeded, no accepted tokens, mirostat's mu at 2·tau.
func (c *Chain) Reset() {
	c.rng = NewMT19937(c.p.Seed)
	c.xtcRNG = NewMT19937(c.p.Seed)
	c.mu = 2 * c.p.MirostatTau
	c.prev, c.head = c.prev[:0], 0
	clear(c.counts)
	c.dry.head, c.dry.full = 0, false
}

// Accept records a token of the sequence (prompt or generated), as
// llama_sampler_accept: the penalties count the last PenaltyLastN.
func (c *Chain) Accept(id int32) {
	c.dryAccept(id)
	n := c.p.PenaltyLastN
	if n <= 0 || id < 0 || int(id) >= c.nVocab {
		return
	}
	c.counts[id]++
	if len(c.prev) < n {
		c.prev = append(c.prev, id)
		return
	}
	c.counts[c.prev[c.head]]--
	c.prev[c.head] = id
	c.head = (c.head + 1) % n
}

// filter runs the chain's samplers in order (all but the draw).
func (c *Chain) filter(cand *Candidates) {
	for _, k := range c.order {
		switch k {
		case Penalties:
			c.penalties(cand)
		case DRY:
			c.dryApply(cand)
		case TopNSigma:
			c.topNSigma(cand)
		case TopK:
			topK(cand, c.p.TopK)
		case Typical:
			c.typical(cand)
		case TopP:
			c.topP(cand)
		case MinP:
			c.minP(cand)
		case XTC:
			c.xtc(cand)
		case Temperature:
			c.tempExt(cand)
		}
	}
}

// Distribution runs the chain on logits but for the draw and returns the
// tokens left with the probabilities the draw gives them (the softmax the
// draw takes; mirostat's own truncation is not applied).
func (c *Chain) Distribution(logits []float32) []Token {
	c.cand.Reset(logits)
	c.bias(&c.cand)
	cand := &c.cand
	if c.p.Mirostat != 0 {
		c.temp(cand, c.p.Temp)
		cand.softmax(true)
		return cand.Data
	}
	save := *c.xtcRNG
	c.filter(cand)
	*c.xtcRNG = save
	cand.softmax(false)
	return cand.Data
}

// Sample runs the chain on logits and returns the token it selects.
func (c *Chain) Sample(logits []float32) int32 {
	c.cand.Reset(logits)
	c.bias(&c.cand)
	c.Apply(&c.cand)
	return c.cand.Data[c.cand.Selected].ID
}

// bias adds the logit biases to candidates fresh from Reset (indexed by
// id).
func (c *Chain) bias(cand *Candidates) {
	for _, b := range c.p.LogitBias {
		cand.Data[b.ID].Logit += b.Bias
	}
}

// Apply runs the chain on the candidates and sets Selected (the logit
// biases are the caller's: Sample and Distribution add them).
func (c *Chain) Apply(cand *Candidates) {
	p := &c.p
	switch p.Mirostat {
	case 1:
		c.temp(cand, p.Temp)
		c.mirostat1(cand)
		return
	case 2:
		c.temp(cand, p.Temp)
		c.mirostat2(cand)
		return
	}
	c.filter(cand)
	c.dist(cand)
}

// ParseOrder reads a chain order as llama.cpp's "samplers" names it: the
// names of Kind, case-insensitive, also with dashes for underscores or
// without them ("top-k", "topk"), and "nucleus", "temp", "typ",
// "typical_p". Names llama.cpp does not know are skipped, as it skips
// them; "infill" and "adaptive_p", which it knows and shimmer does not
// implement, are an error.
func ParseOrder(names []string) ([]Kind, error) {
	var out []Kind
	for _, n := range names {
		k, known, err := kindOf(n)
		if err != nil {
			return nil, err
		}
		if known {
			out = append(out, k)
		}
	}
	return out, nil
}

// ParseOrderChars reads the one-letter form ("edskypmxt"): e penalties,
// d dry, s top-n-σ, k top-k, y typical, p top-p, m min-p, x XTC, t
// temperature.
func ParseOrderChars(s string) ([]Kind, error) {
	byChar := map[rune]Kind{'e': Penalties, 'd': DRY, 's': TopNSigma, 'k': TopK, 'y': Typical, 'p': TopP, 'm': MinP, 'x': XTC, 't': Temperature}
	var out []Kind
	for _, c := range s {
		if k, ok := byChar[c]; ok {
			out = append(out, k)
		} else if c == 'i' || c == 'a' {
			return nil, fmt.Errorf("sampling: sampler %q (infill, adaptive-p) is not supported", c)
		}
	}
	return out, nil
}

func kindOf(name string) (Kind, bool, error) {
	n := strings.ToLower(name)
	for _, k := range []Kind{Penalties, DRY, TopNSigma, TopK, Typical, TopP, MinP, XTC, Temperature} {
		s := string(k)
		if n == s || n == strings.ReplaceAll(s, "_", "-") || n == strings.ReplaceAll(s, "_", "") {
			return k, true, nil
		}
	}
	switch n {
	case "nucleus":
		return TopP, true, nil
	case "temp":
		return Temperature, true, nil
	case "typ", "typical_p", "typical-p", "typicalp":
		return Typical, true, nil
	case "infill", "adaptive_p", "adaptive-p", "adaptivep":
		return "", false, fmt.Errorf("sampling: sampler %q is not supported", name)
	}
	return "", false, nil
}
