package tokenizer

import (
	"fmt"
	"strings"
)

// spaceMarker is SentencePiece's visible space, U+2581.
const spaceMarker = "\u2581"

// initSPM prepares the byte fallback and the word splitting.
func (t *Tokenizer) initSPM() {
	var cross [][2]string
	for _, s := range t.tokens {
		// Every split of the token just before an inner space marker.
		for j := 1; j < len(s); j++ {
			if strings.HasPrefix(s[j:], spaceMarker) && !strings.HasSuffix(s[:j], spaceMarker) {
				cross = append(cross, [2]string{s[:j], s[j:]})
			}
		}
	}
	t.setCrossing(cross)
	for c := range 256 {
		t.byteTok[c] = t.ID(fmt.Sprintf("<0x%02X>", c))
		if t.byteTok[c] < 0 {
			t.byteTok[c] = t.ID(string([]byte{byte(c)}))
		}
	}
}

// Merges follow the best score or rank over a whole text, not word by
// word. But a symbol can only come to span a word start (a space marker
// after anything else) through a merge of a symbol ending there with one
// starting there, whose concatenation has an inner marker. setCrossing
// records those pairs (a, b); where none of them can meet, the words on
// either side are independent and give the same tokens one at a time.
func (t *Tokenizer) setCrossing(pairs [][2]string) {
	if len(pairs) > 256 {
		return // not worth checking at every word
	}
	t.wordSplit = true
	t.crossing = pairs
}

// eachWord calls fn on the independent words of s (see setCrossing), or
// once on all of s.
func (t *Tokenizer) eachWord(s string, fn func(w string)) {
	if !t.wordSplit {
		fn(s)
		return
	}
	start := 0
	prevMarker := false
	for i := 0; i < len(s); {
		n := min(utf8Len(s[i]), len(s)-i)
		marker := s[i:i+n] == spaceMarker
		if marker && !prevMarker && i > start && t.canSplit(s, i) {
			fn(s[start:i])
			start = i
		}
		prevMarker = marker
		i += n
	}
	fn(s[start:])
}

func (t *Tokenizer) canSplit(s string, i int) bool {
	for _, p := range t.crossing {
		if strings.HasSuffix(s[:i], p[0]) && strings.HasPrefix(s[i:], p[1]) {
			return false
		}
	}
	return true
}

type spmSym struct {
	start, end int32
	prev, next int32
	id         int32
}

type spmBigram struct {
	score       float32
	left, right int32
	size        int32
	id          int32
}

// spmHeap is a max-heap by score, the leftmost first among equal scores.
type spmHeap []spmBigram

func (h spmHeap) less(i, j int) bool {
	return h[i].score > h[j].score || (h[i].score == h[j].score && h[i].left < h[j].left)
}

func (h *spmHeap) push(b spmBigram) {
	*h = append(*h, b)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *spmHeap) pop() spmBigram {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

type spmScratch struct {
	syms []spmSym
	heap spmHeap
}

// spmText tokenizes one fragment (already prefixed and escaped).
func (t *Tokenizer) spmText(s string, out []int32, sc *spmScratch) []int32 {
	spm := func(w string, out []int32) []int32 { return t.spmWord(w, out, sc) }
	t.eachWord(s, func(w string) { out = t.cached(w, out, spm) })
	return out
}

// spmWord merges the highest-scoring pair of adjacent symbols whose
// concatenation is a token, until none is left.
func (t *Tokenizer) spmWord(w string, out []int32, sc *spmScratch) []int32 {
	if w == "" {
		return out
	}
	syms := sc.syms[:0]
	for i := 0; i < len(w); {
		n := min(utf8Len(w[i]), len(w)-i)
		k := int32(len(syms))
		syms = append(syms, spmSym{start: int32(i), end: int32(i + n), prev: k - 1, next: k + 1, id: -2})
		i += n
	}
	syms[len(syms)-1].next = -1
	h := sc.heap[:0]
	for i := 1; i < len(syms); i++ {
		t.spmBigram(w, syms, int32(i-1), int32(i), &h)
	}
	for len(h) > 0 {
		bg := h.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		if l.end == l.start || r.end == r.start || (l.end-l.start)+(r.end-r.start) != bg.size {
			continue
		}
		l.end = r.end
		l.id = bg.id
		r.start = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		t.spmBigram(w, syms, l.prev, bg.left, &h)
		t.spmBigram(w, syms, bg.left, l.next, &h)
	}
	sc.syms, sc.heap = syms, h
	for i := int32(0); i >= 0; i = syms[i].next {
		s := syms[i]
		id := s.id
		if id == -2 {
			id = t.ID(w[s.start:s.end])
		}
		if id >= 0 {
			out = append(out, id)
			continue
		}
		for j := s.start; j < s.end; j++ {
			if b := t.byteTok[w[j]]; b >= 0 {
				out = append(out, b)
			} else if t.unk >= 0 {
				out = append(out, t.unk) // the reference aborts here
			}
		}
	}
	return out
}

func (t *Tokenizer) spmBigram(w string, syms []spmSym, l, r int32, h *spmHeap) {
	if l < 0 || r < 0 {
		return
	}
	id, ok := t.ids.get(w[syms[l].start:syms[r].end])
	if !ok {
		return
	}
	var score float32
	if t.scores != nil {
		score = t.scores[id]
	}
	h.push(spmBigram{score: score, left: l, right: r, size: syms[r].end - syms[l].start, id: id})
}
