package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/shimmer-llm/shimmer/gguf"
)

// mergeTable maps a pair of token ids to the rank of their merge and the id
// of the merged token (-1 when the merged text is not a token). It is an
// open-addressing hash table: loading hundreds of thousands of merges must
// stay fast.
type mergeTable struct {
	keys  []uint64 // 0 marks an empty slot
	vals  []uint64 // rank<<32 | uint32(result)
	shift uint
}

func (m *mergeTable) init(n int) {
	size, bits := 1, uint(0)
	for size < 2*n+2 {
		size <<= 1
		bits++
	}
	m.keys = make([]uint64, size)
	m.vals = make([]uint64, size)
	m.shift = 64 - bits
}

func pairKey(l, r int32) uint64 { return (uint64(l)+1)<<32 | uint64(uint32(r)) }

func (m *mergeTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> m.shift }

// add keeps the first rank seen for a pair, as the reference does.
func (m *mergeTable) add(l, r int32, rank int, result int32) {
	k := pairKey(l, r)
	mask := uint64(len(m.keys) - 1)
	for i := m.slot(k); ; i = (i + 1) & mask {
		switch m.keys[i] {
		case 0:
			m.keys[i] = k
			m.vals[i] = uint64(rank)<<32 | uint64(uint32(result))
			return
		case k:
			return
		}
	}
}

func (m *mergeTable) get(l, r int32) (rank, result int32, ok bool) {
	if len(m.keys) == 0 {
		return 0, 0, false
	}
	k := pairKey(l, r)
	mask := uint64(len(m.keys) - 1)
	for i := m.slot(k); ; i = (i + 1) & mask {
		switch m.keys[i] {
		case 0:
			return 0, 0, false
		case k:
			v := m.vals[i]
			return int32(v >> 32), int32(uint32(v)), true
		}
	}
}

// initBPE reads the merges and the byte tokens.
func (t *Tokenizer) initBPE(f *gguf.File) error {
	var merges []string
	if v, ok := f.Get(keyPrefix + "merges"); ok {
		if merges, ok = v.Strings(); !ok {
			return errors.New("tokenizer: tokenizer.ggml.merges is not an array of strings")
		}
	} else if t.pre != "kimi-k2" { // Kimi K2 goes without
		return errors.New("tokenizer: the file has no tokenizer.ggml.merges")
	}
	// Resolve the texts to ids on both cores (the lookups dominate), then
	// fill the table in rank order.
	type resolved struct {
		a, b, res int32
		cross     bool // a word start could be merged over (see setCrossing)
	}
	rs := make([]resolved, len(merges))
	var wg sync.WaitGroup
	const parts = 2
	for k := range parts {
		wg.Go(func() {
			var buf []byte
			for i := k * len(merges) / parts; i < (k+1)*len(merges)/parts; i++ {
				a, b, ok := splitMerge(merges[i])
				if !ok {
					rs[i] = resolved{-2, -2, -1, false}
					continue
				}
				buf = append(append(buf[:0], a...), b...)
				id, _ := t.ids.getBytes(buf)
				rs[i] = resolved{t.ID(a), t.ID(b), id,
					t.escapeSpaces && strings.HasPrefix(b, spaceMarker) && !strings.HasSuffix(a, spaceMarker)}
			}
		})
	}
	wg.Wait()
	t.merges.init(len(merges))
	for rank, r := range rs {
		switch {
		case r.a >= 0 && r.b >= 0:
			t.merges.add(r.a, r.b, rank, r.res)
		case r.a == -2: // no separator: the reference files it under ("", ""), which never matches
		default:
			a, b, _ := splitMerge(merges[rank])
			if t.oddMerges == nil {
				t.oddMerges = map[[2]string]int32{}
			}
			if _, dup := t.oddMerges[[2]string{a, b}]; !dup {
				t.oddMerges[[2]string{a, b}] = int32(rank)
			}
		}
	}
	if t.escapeSpaces {
		var cross [][2]string
		for rank, r := range rs {
			if r.cross {
				a, b, _ := splitMerge(merges[rank])
				cross = append(cross, [2]string{a, b})
			}
		}
		t.setCrossing(cross)
	}
	for c := range 256 {
		var s string
		if t.byteEncode {
			s = byteChars[c]
		} else {
			s = fmt.Sprintf("<0x%02X>", c)
		}
		t.byteTok[c] = t.ID(s)
	}
	return nil
}

// splitMerge splits "A B" at the first space after the first byte.
func splitMerge(m string) (a, b string, ok bool) {
	if len(m) > 1 {
		if i := strings.IndexByte(m[1:], ' '); i >= 0 {
			return m[:i+1], m[i+2:], true
		}
	}
	return "", "", false
}

type bpeSym struct {
	start, end int32
	prev, next int32
	id         int32
}

type bigram struct {
	rank        int32
	left, right int32
	size        int32
	result      int32
}

// bigramHeap is a min-heap by (rank, left). It and spmHeap are written
// out twice on purpose: a generic heap over both element types (method
// calls through the generic dictionary, not inlined) made encoding without
// the word cache 25–30% slower.
type bigramHeap []bigram

func (h bigramHeap) less(i, j int) bool {
	return h[i].rank < h[j].rank || (h[i].rank == h[j].rank && h[i].left < h[j].left)
}

func (h *bigramHeap) push(b bigram) {
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

func (h *bigramHeap) pop() bigram {
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

// scratch holds buffers reused across the words of one Encode call.
type scratch struct {
	r     runes
	ends  []int32
	tmp   []int32
	syms  []bpeSym
	heap  bigramHeap
	bytes []byte
}

// symText is the text of a symbol as the vocabulary spells it.
func (t *Tokenizer) symText(w string, s bpeSym) string {
	if !t.byteEncode {
		return w[s.start:s.end]
	}
	var b strings.Builder
	for i := s.start; i < s.end; i++ {
		b.WriteString(byteChars[w[i]])
	}
	return b.String()
}

// encodeWord writes the byte-level spelling of w into sc.bytes.
func (t *Tokenizer) encodeWord(w string, sc *scratch) []byte {
	b := sc.bytes[:0]
	for i := 0; i < len(w); i++ {
		b = append(b, byteChars[w[i]]...)
	}
	sc.bytes = b
	return b
}

// bpeText tokenizes one raw-text fragment.
func (t *Tokenizer) bpeText(text string, out []int32, sc *scratch) []int32 {
	text = canonical(text)
	sc.r.decode(text)
	sc.ends, sc.tmp = t.split.split(&sc.r, sc.ends, sc.tmp)
	bpe := func(w string, out []int32) []int32 { return t.bpeWord(w, out, sc) }
	a := 0
	for _, e := range sc.ends {
		w := text[sc.r.off[a]:sc.r.off[e]]
		a = int(e)
		if t.wordSplit && !(t.gemma4 && strings.Trim(w, "\n") == "") {
			t.eachWord(w, func(w string) { out = t.cached(w, out, bpe) })
			continue
		}
		out = t.cached(w, out, bpe)
	}
	return out
}

// bpeWord applies the merges to one word.
func (t *Tokenizer) bpeWord(w string, out []int32, sc *scratch) []int32 {
	if w == "" {
		return out
	}
	if t.ignoreMerges {
		if t.byteEncode {
			if id, ok := t.ids.getBytes(t.encodeWord(w, sc)); ok {
				return append(out, id)
			}
		} else if id, ok := t.ids.get(w); ok {
			return append(out, id)
		}
	}
	if t.gemma4 && strings.Trim(w, "\n") == "" {
		if id, ok := t.ids.get(w); ok {
			return append(out, id)
		}
	}
	syms := sc.syms[:0]
	if t.byteEncode {
		for i := 0; i < len(w); i++ {
			syms = append(syms, bpeSym{start: int32(i), end: int32(i + 1), prev: int32(i - 1), next: int32(i + 1), id: t.byteTok[w[i]]})
		}
	} else {
		for i := 0; i < len(w); {
			n := min(utf8Len(w[i]), len(w)-i)
			id, ok := t.ids.get(w[i : i+n])
			if !ok {
				id = -1
			}
			k := int32(len(syms))
			syms = append(syms, bpeSym{start: int32(i), end: int32(i + n), prev: k - 1, next: k + 1, id: id})
			i += n
		}
	}
	syms[len(syms)-1].next = -1
	sc.syms = syms
	h := sc.heap[:0]
	for i := 1; i < len(syms); i++ {
		t.addBigram(w, syms, int32(i-1), int32(i), &h)
	}
	for len(h) > 0 {
		bg := h.pop()
		l, r := &syms[bg.left], &syms[bg.right]
		if l.end == l.start || r.end == r.start || (l.end-l.start)+(r.end-r.start) != bg.size {
			continue
		}
		l.end = r.end
		l.id = bg.result
		r.start = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		t.addBigram(w, syms, l.prev, bg.left, &h)
		t.addBigram(w, syms, bg.left, l.next, &h)
	}
	sc.heap = h
	for i := int32(0); i >= 0; i = syms[i].next {
		s := syms[i]
		if s.id >= 0 {
			out = append(out, s.id)
			continue
		}
		txt := t.symText(w, s)
		for j := 0; j < len(txt); j++ {
			var id int32
			if t.byteEncode {
				id = t.ID(txt[j : j+1])
			} else {
				id = t.byteTok[txt[j]]
			}
			if id >= 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

func (t *Tokenizer) addBigram(w string, syms []bpeSym, l, r int32, h *bigramHeap) {
	if l < 0 || r < 0 {
		return
	}
	ls, rs := syms[l], syms[r]
	var rank, res int32
	if ls.id >= 0 && rs.id >= 0 {
		var ok bool
		if rank, res, ok = t.merges.get(ls.id, rs.id); !ok {
			return
		}
	} else {
		if t.oddMerges == nil {
			return
		}
		a, b := t.symText(w, ls), t.symText(w, rs)
		var ok bool
		if rank, ok = t.oddMerges[[2]string{a, b}]; !ok {
			return
		}
		res = t.ID(a + b)
	}
	h.push(bigram{rank: rank, left: l, right: r, size: (ls.end - ls.start) + (rs.end - rs.start), result: res})
}
