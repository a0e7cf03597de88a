package grammar

import (
	"fmt"
	"unicode/utf8"
)

// Element kinds of a compiled grammar.
const (
	eEnd   = iota // the end of an alternative
	eBytes        // one byte from a set
	eRef          // a rule
)

type elem struct {
	kind uint8
	arg  int32 // eBytes: index into Grammar.sets; eRef: rule index
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s[c>>6] |= 1 << (c & 63)
	}
}

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// Grammar is a compiled grammar: every rule's alternatives as sequences of
// byte sets and rule references, in one flat array. It is immutable and
// safe for concurrent use; each generation matches with its own Matcher.
type Grammar struct {
	elems []elem
	rules [][]int32 // per rule: the start of each alternative in elems
	names []string  // per rule: its name (generated rules: parent-N)
	sets  []byteSet
	setIx map[byteSet]int32
	root  int32
}

// maxElems bounds the size of a compiled grammar (repetition counts
// expand into copies).
const maxElems = 1 << 21

type compiler struct {
	g      *Grammar
	byName map[string]int32
	user   []bool // per rule: written by the user (not generated)
	parent []string
	n      map[string]int // generated rules per user rule
	err    error
}

// Compile parses and checks a GBNF grammar: a rule named root must
// exist, every referenced rule must be defined, and no rule may be left
// recursive (reach itself before consuming input, directly, through other
// rules, or through rules that can match nothing), which would make
// matching loop. Errors are *Error values naming the line, column and rule.
func Compile(src string) (*Grammar, error) {
	rules, err := parseRules(src)
	if err != nil {
		return nil, err
	}
	c := &compiler{g: &Grammar{setIx: map[byteSet]int32{}}, byName: map[string]int32{}, n: map[string]int{}}
	for _, r := range rules {
		c.byName[r.name] = c.newRule(r.name, r.name, true)
	}
	root, ok := c.byName["root"]
	if !ok {
		return nil, &Error{Msg: "no rule named root (the grammar's start)"}
	}
	c.g.root = root
	for _, r := range rules {
		id := c.byName[r.name]
		c.g.rules[id] = c.alternatives(r.name, r.alts)
		if c.err != nil {
			return nil, c.err
		}
	}
	if err := c.checkLeftRecursion(); err != nil {
		return nil, err
	}
	return c.g, nil
}

func (c *compiler) newRule(name, parent string, user bool) int32 {
	c.g.rules = append(c.g.rules, nil)
	c.g.names = append(c.g.names, name)
	c.user = append(c.user, user)
	c.parent = append(c.parent, parent)
	return int32(len(c.g.rules) - 1)
}

// generated adds a rule made from part of the user rule parent.
func (c *compiler) generated(parent string) int32 {
	c.n[parent]++
	return c.newRule(fmt.Sprintf("%s-%d", parent, c.n[parent]), parent, false)
}

func (c *compiler) emit(e elem) {
	if len(c.g.elems) >= maxElems && c.err == nil {
		c.err = &Error{Msg: fmt.Sprintf("the grammar expands to more than %d elements (repetition counts too large?)", maxElems)}
	}
	c.g.elems = append(c.g.elems, e)
}

// alternatives compiles alternatives into elems and returns their starts.
func (c *compiler) alternatives(rule string, alts [][]item) []int32 {
	// Each alternative is compiled into a scratch sequence first: items
	// may create rules (and so compile other alternatives) on the way.
	var seqs [][]elem
	for _, alt := range alts {
		var seq []elem
		for _, it := range alt {
			seq = append(seq, c.item(rule, it)...)
			if c.err != nil {
				return nil
			}
		}
		seqs = append(seqs, seq)
	}
	return c.rawAlternatives(seqs)
}

// item compiles one item with its repetition into a sequence of elements.
func (c *compiler) item(rule string, it item) []elem {
	unit := c.unit(rule, it)
	if c.err != nil || it.min == 1 && it.max == 1 {
		return unit
	}
	var seq []elem
	for i := 0; i < it.min; i++ {
		seq = append(seq, unit...)
		if len(seq) > maxElems {
			c.err = &Error{Line: it.line, Col: it.col, Rule: rule, Msg: "the repetition expands too far"}
			return nil
		}
	}
	if it.max < 0 {
		// S* : R ::= S R | ε
		r := c.generated(rule)
		c.g.rules[r] = c.rawAlternatives([][]elem{append(append([]elem(nil), unit...), elem{kind: eRef, arg: r}), nil})
		return append(seq, elem{kind: eRef, arg: r})
	}
	// S{0,n}: R1 ::= S R2 | ε, …, Rn ::= S | ε.
	var next int32 = -1
	for i := it.max - it.min; i > 0; i-- {
		r := c.generated(rule)
		body := append([]elem(nil), unit...)
		if next >= 0 {
			body = append(body, elem{kind: eRef, arg: next})
		}
		c.g.rules[r] = c.rawAlternatives([][]elem{body, nil})
		next = r
		if c.err != nil {
			return nil
		}
	}
	if next >= 0 {
		seq = append(seq, elem{kind: eRef, arg: next})
	}
	return seq
}

// rawAlternatives stores compiled sequences as a rule's alternatives.
func (c *compiler) rawAlternatives(seqs [][]elem) []int32 {
	starts := make([]int32, len(seqs))
	for i, seq := range seqs {
		starts[i] = int32(len(c.g.elems))
		for _, e := range seq {
			c.emit(e)
		}
		c.emit(elem{kind: eEnd})
	}
	return starts
}

// unit compiles an item without its repetition.
func (c *compiler) unit(rule string, it item) []elem {
	switch it.kind {
	case itLiteral:
		seq := make([]elem, len(it.lit))
		for i, b := range it.lit {
			seq[i] = c.bytes(b, b)
		}
		return seq
	case itRef:
		id, ok := c.byName[it.name]
		if !ok {
			c.err = &Error{Line: it.line, Col: it.col, Rule: rule, Msg: fmt.Sprintf("rule %q is referenced but not defined", it.name)}
			return nil
		}
		return []elem{{kind: eRef, arg: id}}
	case itGroup:
		r := c.generated(rule)
		c.g.rules[r] = c.alternatives(rule, it.alts)
		return []elem{{kind: eRef, arg: r}}
	default:
		return c.class(rule, it.ranges)
	}
}

func (c *compiler) bytes(lo, hi byte) elem {
	var s byteSet
	s.add(lo, hi)
	return c.set(s)
}

func (c *compiler) set(s byteSet) elem {
	ix, ok := c.g.setIx[s]
	if !ok {
		ix = int32(len(c.g.sets))
		c.g.sets = append(c.g.sets, s)
		c.g.setIx[s] = ix
	}
	return elem{kind: eBytes, arg: ix}
}

// class compiles a set of code points: one byte set when every code point
// is ASCII, else a rule whose alternatives are the UTF-8 byte sequences of
// the ranges (surrogates excluded).
func (c *compiler) class(rule string, rs []cpRange) []elem {
	var ascii byteSet
	var seqs [][]elem
	for _, r := range rs {
		if r.lo < 0x80 {
			ascii.add(byte(r.lo), byte(min(r.hi, 0x7f)))
			if r.hi < 0x80 {
				continue
			}
			r.lo = 0x80
		}
		for _, sub := range splitSurrogates(r) {
			for _, seq := range utf8Sequences(sub.lo, sub.hi) {
				var es []elem
				for _, br := range seq {
					es = append(es, c.bytes(br[0], br[1]))
				}
				seqs = append(seqs, es)
			}
		}
	}
	if len(seqs) == 0 {
		if ascii == (byteSet{}) {
			// An empty class matches nothing: a rule without alternatives.
			r := c.generated(rule)
			c.g.rules[r] = nil
			return []elem{{kind: eRef, arg: r}}
		}
		return []elem{c.set(ascii)}
	}
	if ascii != (byteSet{}) {
		seqs = append([][]elem{{c.set(ascii)}}, seqs...)
	}
	r := c.generated(rule)
	c.g.rules[r] = c.rawAlternatives(seqs)
	return []elem{{kind: eRef, arg: r}}
}

func splitSurrogates(r cpRange) []cpRange {
	const lo, hi = 0xd800, 0xdfff
	var out []cpRange
	if r.lo < lo {
		out = append(out, cpRange{r.lo, min(r.hi, lo-1)})
	}
	if r.hi > hi {
		out = append(out, cpRange{max(r.lo, hi+1), r.hi})
	}
	return out
}

// utf8Sequences splits a range of code points (no surrogates) into
// sequences of byte ranges whose concatenations are exactly their UTF-8
// encodings.
func utf8Sequences(lo, hi rune) [][][2]byte {
	// Split at encoding-length boundaries first.
	for _, b := range []rune{0x7f, 0x7ff, 0xffff} {
		if lo <= b && hi > b {
			return append(utf8Sequences(lo, b), utf8Sequences(b+1, hi)...)
		}
	}
	if hi < 0x80 {
		return [][][2]byte{{{byte(lo), byte(hi)}}}
	}
	// Split until every continuation position spans its full range or a
	// single value, from the last byte up.
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1 // the bits of the last i continuation bytes
		if lo&^m != hi&^m {
			if lo&m != 0 {
				return append(utf8Sequences(lo, lo|m), utf8Sequences((lo|m)+1, hi)...)
			}
			if hi&m != m {
				return append(utf8Sequences(lo, (hi&^m)-1), utf8Sequences(hi&^m, hi)...)
			}
		}
	}
	a, b := make([]byte, 4), make([]byte, 4)
	utf8.EncodeRune(a, lo)
	utf8.EncodeRune(b, hi)
	seq := make([][2]byte, n)
	for i := 0; i < n; i++ {
		seq[i] = [2]byte{a[i], b[i]}
	}
	return [][][2]byte{seq}
}

// checkLeftRecursion refuses a rule that can reach itself before
// consuming a byte, unless every step of that loop is the last element of
// its alternative (as repetitions of something that can match nothing,
// `( [x]* )*`, produce): such a loop returns to the same continuation and
// ends. Other loops would grow the stack without bound.
func (c *compiler) checkLeftRecursion() error {
	g := c.g
	n := len(g.rules)
	nullable := make([]bool, n)
	for changed := true; changed; {
		changed = false
		for r, alts := range g.rules {
			if nullable[r] {
				continue
			}
			for _, a := range alts {
				if c.seqNullable(a, nullable) {
					nullable[r], changed = true, true
					break
				}
			}
		}
	}
	type edge struct {
		to   int32
		tail bool
	}
	edges := make([][]edge, n)
	for r, alts := range g.rules {
		for _, a := range alts {
			for p := a; g.elems[p].kind != eEnd; p++ {
				e := g.elems[p]
				if e.kind == eBytes {
					break
				}
				edges[r] = append(edges[r], edge{e.arg, g.elems[p+1].kind == eEnd})
				if !nullable[e.arg] {
					break
				}
			}
		}
	}
	// Tarjan's strongly connected components.
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range edges[v] {
			w := int(e.to)
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for v := 0; v < n; v++ {
		if index[v] < 0 {
			visit(v)
		}
	}
	for r := range edges {
		for _, e := range edges[r] {
			if !e.tail && comp[r] == comp[e.to] {
				name := c.parent[r]
				via := ""
				if nullable[e.to] || !c.user[e.to] {
					via = " (through rules that can match nothing)"
				}
				return &Error{Rule: name, Msg: fmt.Sprintf("left recursion: %q can reach itself before matching any input%s", name, via)}
			}
		}
	}
	return nil
}

func (c *compiler) seqNullable(start int32, nullable []bool) bool {
	for p := start; c.g.elems[p].kind != eEnd; p++ {
		e := c.g.elems[p]
		if e.kind == eBytes || !nullable[e.arg] {
			return false
		}
	}
	return true
}
