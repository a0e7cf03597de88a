package sampling

import (
	"math"
	"slices"
	"strings"
)

// DRY ("don't repeat yourself", as llama.cpp's dry sampler): a token that
// would extend a sequence of the recent tokens already seen earlier gets
// its logit lowered by multiplier × base^(length − allowed length), the
// length counted back from the last token; sequence breakers (text such
// as a newline, split into the tokens that can begin it) cut how far back
// a repeat may reach.

// Breakers are processed sequence breakers: for each token that begins
// one, the tokens that must follow it (none when the token holds the
// whole breaker).
type Breakers map[int32][][]int32

// DRY defaults: llama.cpp's common_params_sampling.
const (
	DefaultDRYBase          = 1.75
	DefaultDRYAllowedLength = 2
)

// DefaultDRYBreakers are llama.cpp's default sequence breakers.
var DefaultDRYBreakers = []string{"\n", ":", "\"", "*"}

// Breaker limits, as llama.cpp's: a breaker is cut to 40 bytes, its tail
// to 20 tokens.
const (
	maxBreakerBytes = 40
	maxBreakerTail  = 20
)

// ProcessBreakers finds, for each breaker, the tokens of a vocabulary of
// n tokens whose text (piece) holds it (no tail) or ends with a beginning
// of it (the tail: encode of the rest), as llama.cpp's
// get_overlapping_token_sequences does.
func ProcessBreakers(breakers []string, n int, piece func(int32) string, encode func(string) []int32) Breakers {
	out := Breakers{}
	for _, br := range breakers {
		if len(br) > maxBreakerBytes {
			br = br[:maxBreakerBytes]
		}
		if br == "" {
			continue
		}
		for id := int32(0); id < int32(n); id++ {
			word := piece(id)
			if strings.Contains(word, br) {
				out[id] = append(out[id], []int32{})
				continue
			}
			for pos := 0; pos < len(word); pos++ {
				if word[pos] != br[0] {
					continue
				}
				i, match := 1, true
				for ; i < len(br) && i+pos < len(word); i++ {
					if word[pos+i] != br[i] {
						match = false
						break
					}
				}
				if !match {
					continue
				}
				tail := encode(br[i:])
				if len(tail) > maxBreakerTail {
					tail = tail[:maxBreakerTail]
				}
				if !slices.ContainsFunc(out[id], func(t []int32) bool { return slices.Equal(t, tail) }) {
					out[id] = append(out[id], tail)
				}
			}
		}
	}
	return out
}

// dryState is the DRY sampler's memory: the last tokens accepted, in a
// ring, and its scratch.
type dryState struct {
	ring   []int32
	head   int // next write
	full   bool
	counts []int // repeat counts, by position from the oldest
	maxRep map[int32]int
}

func (c *Chain) dryEnabled() bool {
	p := &c.p
	return p.DRYMultiplier != 0 && p.DRYBase >= 1 && p.DRYPenaltyLastN != 0
}

// dryLastN is the ring's size: DRYPenaltyLastN, -1 standing for
// DRYContext.
func (c *Chain) dryLastN() int {
	if c.p.DRYPenaltyLastN == -1 {
		return max(c.p.DRYContext, 0)
	}
	return max(c.p.DRYPenaltyLastN, 0)
}

func (c *Chain) dryAccept(id int32) {
	d := &c.dry
	if len(d.ring) == 0 {
		return
	}
	d.ring[d.head] = id
	d.head = (d.head + 1) % len(d.ring)
	if d.head == 0 {
		d.full = true
	}
}

func (d *dryState) size() int {
	if d.full {
		return len(d.ring)
	}
	return d.head
}

// rat is the i-th token from the newest (0: the newest).
func (d *dryState) rat(i int) int32 {
	j := d.head - 1 - i
	if j < 0 {
		j += len(d.ring)
	}
	return d.ring[j]
}

func (c *Chain) dryApply(cand *Candidates) {
	if !c.dryEnabled() {
		return
	}
	p, d := &c.p, &c.dry
	n := min(d.size(), c.dryLastN(), p.DRYContext)
	if n <= p.DRYAllowedLength {
		return
	}
	if cap(d.counts) < n {
		d.counts = make([]int, n)
	}
	counts := d.counts[:n]
	clear(counts)
	if d.maxRep == nil {
		d.maxRep = map[int32]int{}
	}
	clear(d.maxRep)

	// 1. The nearest breaker bounds the repeats.
	limit := n
	for i := 0; i < n; i++ {
		tails, ok := p.DRYBreakers[d.rat(i)]
		if !ok {
			continue
		}
		longest := -1
		for _, tail := range tails {
			if len(tail) > longest && len(tail) <= i {
				match := true
				for off, id := range tail {
					if id != d.rat(i-off-1) {
						match = false
						break
					}
				}
				if match {
					longest = len(tail)
				}
			}
		}
		if longest >= 0 {
			limit = i - longest
			break
		}
	}
	if limit < p.DRYAllowedLength {
		return
	}

	// 2. For each position, how many tokens before it match the newest
	// ones (a Z-algorithm run backwards), at most limit.
	last := n - 1
	lt, rt := 0, 0
	for k := 1; k < n; k++ {
		if k > rt {
			m := 0
			for m+k < n && d.rat(m) == d.rat(m+k) {
				m++
			}
			counts[last-k] = min(m, limit)
			if m > 0 {
				lt, rt = k, k+m-1
			}
			continue
		}
		pair := k - lt
		right := rt - k + 1
		if counts[last-pair] < right {
			counts[last-k] = min(counts[last-pair], limit)
			continue
		}
		i := rt + 1
		for i < n && d.rat(i) == d.rat(i-k) {
			i++
		}
		counts[last-k] = min(i-k, limit)
		lt, rt = k, i-1
	}

	// 3. The token after each repeat would extend it.
	for i := 0; i < n-1; i++ {
		rep := counts[i]
		if rep >= p.DRYAllowedLength {
			tok := d.rat(n - 2 - i)
			if old, ok := d.maxRep[tok]; !ok || old < rep {
				d.maxRep[tok] = rep
			}
		}
	}

	// 4. The penalties; single-token breakers are spared.
	const floatMaxLog = 88.7228391
	maxExp := 0
	if p.DRYBase > 1.000001 {
		maxExp = int(float32(floatMaxLog) / float32(math.Log(float64(p.DRYBase))))
	}
	// The tokens to penalise are few: find each among the candidates
	// (still in id order in the default chain) instead of looking up every
	// candidate.
	for id, rep := range d.maxRep {
		i := int(id)
		if i >= len(cand.Data) || cand.Data[i].ID != id {
			i = slices.IndexFunc(cand.Data, func(t Token) bool { return t.ID == id })
		}
		if i < 0 || slices.ContainsFunc(p.DRYBreakers[id], func(tail []int32) bool { return len(tail) == 0 }) {
			continue // not a candidate, or a single-token breaker
		}
		exp := rep - p.DRYAllowedLength
		if maxExp > 0 && exp > maxExp {
			exp = maxExp
		}
		// In double, as C++'s pow(float, int) and the product with it are.
		cand.Data[i].Logit -= float32(float64(p.DRYMultiplier) * math.Pow(float64(p.DRYBase), float64(exp)))
	}
	cand.Sorted = false
}
