package grammar

// A Matcher follows one text through a grammar, a byte at a time. Its
// state is a set of stacks: each stack is the list of grammar positions
// still to match, the top (always a byte set) first. Advancing by a byte
// keeps the stacks whose top accepts it, moves past that element and
// expands rule references until every top is a byte set again; a stack
// that empties means the grammar can end there.
//
// Stacks are persistent lists of interned frames, so equal stacks are the
// same pointer: the state deduplicates by pointer, and a step allocates
// only frames it has not seen before. A Matcher is used by one goroutine.
type Matcher struct {
	g        *Grammar
	cur      []*frame // the stacks; a nil entry is the empty stack
	next     []*frame
	intern   map[uint64]*frame
	seenKeys []uint64 // (position, continuation) expanded this step
	ids      int32

	// Allowed's working state: speculative steps take frames from the
	// arena instead of interning them.
	spec       bool
	arena      arena
	levels     [][]*frame
	masks      map[string][]uint64
	masksOf    *Vocab
	keyBuf     []int32
	saved      []*frame // AcceptBytes: the state to restore
	stepBuf    []*frame
	closedDone []bool    // per state: closedSets computed
	closedSets []byteSet // per state: the bytes that lead back to it
	// The per-mask memo: speculative frames interned, states numbered,
	// transitions.
	memo       bool // Allowed is running: speculative frames are interned
	specIntern map[uint64]*frame
	stateIx    map[string]int32
	states     [][]*frame
	trans      [][256]int32 // per state, per byte: the next state
	keyBytes   []byte
}

// frame is a grammar position to match, then the rest of the stack.
type frame struct {
	pos  int32
	id   int32
	next *frame
}

// NewMatcher starts matching at the beginning of the root rule.
func (g *Grammar) NewMatcher() *Matcher {
	m := &Matcher{g: g, intern: map[uint64]*frame{}}
	m.Reset()
	return m
}

// Reset returns to the beginning of the grammar.
func (m *Matcher) Reset() {
	m.seenKeys = m.seenKeys[:0]
	m.cur = m.cur[:0]
	for _, a := range m.g.rules[m.g.root] {
		m.expand(a, nil, &m.cur)
	}
}

// Match reports whether the whole of s is a sentence of the grammar.
func (g *Grammar) Match(s string) bool {
	m := g.NewMatcher()
	for i := 0; i < len(s); i++ {
		if !m.Accept(s[i]) {
			return false
		}
	}
	return m.CanEnd()
}

// CanEnd reports whether the text so far is a whole sentence.
func (m *Matcher) CanEnd() bool {
	for _, st := range m.cur {
		if st == nil {
			return true
		}
	}
	return false
}

// Dead reports whether no byte can follow (the grammar can only end, or,
// after a refused byte sequence, nothing is left).
func (m *Matcher) Dead() bool {
	for _, st := range m.cur {
		if st != nil {
			return false
		}
	}
	return true
}

// Accept advances by one byte and reports whether the grammar allows it;
// when it does not, the state is unchanged.
func (m *Matcher) Accept(b byte) bool {
	m.seenKeys = m.seenKeys[:0]
	m.next = m.next[:0]
	g := m.g
	for _, st := range m.cur {
		if st != nil && g.sets[g.elems[st.pos].arg].has(b) {
			m.expand(st.pos+1, st.next, &m.next)
		}
	}
	if len(m.next) == 0 {
		return false
	}
	m.cur, m.next = m.next, m.cur
	return true
}

// AcceptBytes advances by every byte of s in turn; on a refused byte it
// restores the state from before s and returns false.
func (m *Matcher) AcceptBytes(s string) bool {
	m.saved = append(m.saved[:0], m.cur...)
	for i := 0; i < len(s); i++ {
		if !m.Accept(s[i]) {
			m.cur = append(m.cur[:0], m.saved...)
			return false
		}
	}
	return true
}

// expand adds to out the stacks that begin at position pos followed by
// the stack next, with every rule reference on top expanded.
func (m *Matcher) expand(pos int32, next *frame, out *[]*frame) {
	g := m.g
	// Past the end of an alternative: return to the caller's position.
	for g.elems[pos].kind == eEnd {
		if next == nil {
			if !m.once(-1, nil) {
				return
			}
			*out = append(*out, nil)
			return
		}
		pos, next = next.pos, next.next
	}
	if !m.once(pos, next) {
		return
	}
	e := g.elems[pos]
	if e.kind == eBytes {
		*out = append(*out, m.frame(pos, next))
		return
	}
	// A reference: match the rule, then continue after it (a reference
	// that ends its alternative continues straight with next, so a loop
	// through such references comes back to a position already seen).
	cont := next
	if g.elems[pos+1].kind != eEnd {
		cont = m.frame(pos+1, next)
	}
	for _, a := range g.rules[e.arg] {
		m.expand(a, cont, out)
	}
}

// once reports whether (pos, next) is expanded for the first time this step.
func (m *Matcher) once(pos int32, next *frame) bool {
	k := key(pos, next)
	for _, s := range m.seenKeys {
		if s == k {
			return false
		}
	}
	m.seenKeys = append(m.seenKeys, k)
	return true
}

func key(pos int32, next *frame) uint64 {
	var id int32
	if next != nil {
		id = next.id
	}
	return uint64(uint32(pos))<<32 | uint64(uint32(id))
}

// frame returns the interned frame (pos, next).
func (m *Matcher) frame(pos int32, next *frame) *frame {
	k := key(pos, next)
	if m.spec {
		if !m.memo {
			return m.arena.get(pos, next)
		}
		if f, ok := m.specIntern[k]; ok {
			return f
		}
		f := m.arena.get(pos, next)
		m.specIntern[k] = f
		return f
	}
	if f, ok := m.intern[k]; ok {
		return f
	}
	m.ids++
	f := &frame{pos: pos, id: m.ids, next: next}
	m.intern[k] = f
	return f
}
