package grammar

import (
	"slices"
	"strconv"
	"strings"
)

// Vocab is a tokenizer's vocabulary as a byte trie, for computing which
// tokens a grammar state allows. It is immutable and shared by all the
// matchers of an engine.
type Vocab struct {
	nodes  []trieNode
	edges  []trieEdge
	ids    []int32 // tokens ending at each node, by trieNode.tok
	n      int     // vocabulary size
	pieces []string
}

type trieNode struct {
	edge, nEdges int32   // its children: edges[edge : edge+nEdges], by byte
	tok, nTok    int32   // tokens whose bytes end here: ids[tok : tok+nTok]
	end          int32   // the tokens of its whole subtree: ids[tok : end]
	sub          byteSet // the bytes on the edges below it
}

type trieEdge struct {
	b     byte
	child int32
}

// NewVocab builds the trie of the tokens' bytes (pieces[id]); tokens with
// no bytes (control tokens) are never allowed by a grammar.
func NewVocab(pieces []string) *Vocab {
	// Sorting the tokens by their bytes lays the trie out depth-first:
	// every node's children are contiguous and in byte order.
	order := make([]int32, 0, len(pieces))
	for id, p := range pieces {
		if p != "" {
			order = append(order, int32(id))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(pieces[a], pieces[b]) })
	type building struct {
		kids map[byte]int32
		toks []int32
	}
	nodes := []building{{kids: map[byte]int32{}}}
	for _, id := range order {
		cur := int32(0)
		p := pieces[id]
		for i := 0; i < len(p); i++ {
			nx, ok := nodes[cur].kids[p[i]]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, building{kids: map[byte]int32{}})
				nodes[cur].kids[p[i]] = nx
			}
			cur = nx
		}
		nodes[cur].toks = append(nodes[cur].toks, id)
	}
	v := &Vocab{nodes: make([]trieNode, len(nodes)), n: len(pieces), pieces: pieces}
	for i, b := range nodes {
		keys := make([]byte, 0, len(b.kids))
		for k := range b.kids {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		v.nodes[i] = trieNode{edge: int32(len(v.edges)), nEdges: int32(len(keys)), tok: int32(len(v.ids)), nTok: int32(len(b.toks))}
		for _, k := range keys {
			v.edges = append(v.edges, trieEdge{k, b.kids[k]})
		}
		v.ids = append(v.ids, b.toks...)
	}
	// Nodes were created in preorder, so a subtree's tokens are a run of
	// ids and children have larger indices than their parents.
	for i := len(v.nodes) - 1; i >= 0; i-- {
		nd := &v.nodes[i]
		nd.end = nd.tok + nd.nTok
		for _, e := range v.edges[nd.edge : nd.edge+nd.nEdges] {
			c := &v.nodes[e.child]
			nd.end = max(nd.end, c.end)
			nd.sub.add(e.b, e.b)
			for w := range nd.sub {
				nd.sub[w] |= c.sub[w]
			}
		}
	}
	return v
}

// subset reports whether every byte of a is in b.
func (a *byteSet) subset(b *byteSet) bool {
	for w := range a {
		if a[w]&^b[w] != 0 {
			return false
		}
	}
	return true
}

// Size is the number of token ids the vocabulary covers.
func (v *Vocab) Size() int { return v.n }

// MaskWords is the length of the masks Allowed fills.
func (v *Vocab) MaskWords() int { return (v.n + 63) / 64 }

// maskCacheSize bounds the masks a Matcher keeps for states seen before.
const maskCacheSize = 128

// Allowed sets bit id of mask (MaskWords long) for every token whose
// bytes the grammar accepts from the current state, in full; end-of-text
// tokens are the caller's (see CanEnd). Masks of states seen before come
// from a cache: inside a JSON string, say, every step has the same state.
func (m *Matcher) Allowed(v *Vocab, mask []uint64) {
	key := m.stateKey()
	if cached, ok := m.masks[key]; ok && m.masksOf == v {
		copy(mask, cached)
		return
	}
	clear(mask)
	m.spec = true
	m.arena.reset()
	m.beginMemo()
	m.memo = true
	// Depth-first over the trie, each level holding the state (memoised:
	// a state and a byte lead to one state, computed once per mask).
	type level struct {
		node, edge int32
		state      int32
	}
	stack := []level{{node: 0, edge: 0, state: m.stateID(m.cur)}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		nd := v.nodes[top.node]
		if top.edge >= nd.nEdges {
			stack = stack[:len(stack)-1]
			continue
		}
		e := v.edges[nd.edge+top.edge]
		top.edge++
		ns := m.transition(top.state, e.b)
		if ns < 0 {
			continue
		}
		child := &v.nodes[e.child]
		// A large subtree whose every byte leaves the state as it is
		// (inside a string, say) is allowed whole without walking it.
		whole := child.nEdges > 0 && child.end-child.tok > 32 && child.sub.subset(m.closedOf(ns))
		last := child.tok + child.nTok
		if whole {
			last = child.end
		}
		for _, id := range v.ids[child.tok:last] {
			mask[id>>6] |= 1 << (id & 63)
		}
		if child.nEdges > 0 && !whole {
			stack = append(stack, level{node: e.child, state: ns})
		}
	}
	m.spec, m.memo = false, false
	m.arena.reset()
	if m.masks == nil || len(m.masks) >= maskCacheSize || m.masksOf != v {
		m.masks, m.masksOf = map[string][]uint64{}, v
	}
	m.masks[key] = slices.Clone(mask)
}

// AcceptToken advances by the bytes of a token; false (state unchanged)
// when the grammar refuses them.
func (m *Matcher) AcceptToken(piece string) bool { return m.AcceptBytes(piece) }

// stateKey identifies the current state: its stacks are interned, so the
// ids of their tops say everything.
func (m *Matcher) stateKey() string {
	ids := m.keyBuf[:0]
	for _, st := range m.cur {
		if st == nil {
			ids = append(ids, 0)
		} else {
			ids = append(ids, st.id)
		}
	}
	slices.Sort(ids)
	m.keyBuf = ids
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(int(id)))
		b.WriteByte(',')
	}
	return b.String()
}

// stepInto is Accept on the stacks from, without touching the matcher's
// state: the new stacks go to out.
func (m *Matcher) stepInto(from []*frame, b byte, out []*frame) []*frame {
	m.seenKeys = m.seenKeys[:0]
	g := m.g
	for _, st := range from {
		if st != nil && g.sets[g.elems[st.pos].arg].has(b) {
			m.expand(st.pos+1, st.next, &out)
		}
	}
	return out
}

// arena hands out the frames of speculative steps (Allowed), all freed
// together; ids above speculativeID keep them apart from interned ones.
type arena struct {
	chunks [][]frame
	n      int // frames used
	ids    int32
}

const speculativeID = 1 << 30

func (a *arena) reset() { a.n, a.ids = 0, speculativeID }

func (a *arena) get(pos int32, next *frame) *frame {
	const chunk = 4096
	c, i := a.n/chunk, a.n%chunk
	if c == len(a.chunks) {
		a.chunks = append(a.chunks, make([]frame, chunk))
	}
	a.n++
	a.ids++
	f := &a.chunks[c][i]
	*f = frame{pos: pos, id: a.ids, next: next}
	return f
}

// Accepts reports whether the grammar accepts all of s from the current
// state, without changing it (and without keeping any frame it made).
func (m *Matcher) Accepts(s string) bool {
	if len(s) == 0 {
		return true
	}
	m.spec = true
	m.arena.reset()
	for len(m.levels) < 2 {
		m.levels = append(m.levels, nil)
	}
	cur := m.cur
	ok := true
	for i := 0; i < len(s); i++ {
		buf := m.levels[i&1][:0]
		cur = m.stepInto(cur, s[i], buf)
		m.levels[i&1] = cur
		if len(cur) == 0 {
			ok = false
			break
		}
	}
	m.spec = false
	m.arena.reset()
	return ok
}

// Piece returns token id's bytes as the trie holds them.
func (v *Vocab) Piece(id int32) string { return v.pieces[id] }

// beginMemo clears the per-mask memo of states and transitions.
func (m *Matcher) beginMemo() {
	if m.specIntern == nil {
		m.specIntern = map[uint64]*frame{}
		m.stateIx = map[string]int32{}
	}
	clear(m.specIntern)
	clear(m.stateIx)
	m.states = m.states[:0]
	m.trans = m.trans[:0]
	m.closedDone = m.closedDone[:0]
	m.closedSets = m.closedSets[:0]
}

// stateID interns a list of stacks (whose frames are interned, so equal
// content means equal pointers) and returns its number.
func (m *Matcher) stateID(st []*frame) int32 {
	b := m.keyBytes[:0]
	for _, f := range st {
		var id int32
		if f != nil {
			id = f.id
		}
		b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	m.keyBytes = b
	if i, ok := m.stateIx[string(b)]; ok {
		return i
	}
	i := int32(len(m.states))
	m.stateIx[string(b)] = i
	m.states = append(m.states, append([]*frame(nil), st...))
	m.closedDone = append(m.closedDone, false)
	m.closedSets = append(m.closedSets, byteSet{})
	var row [256]int32
	for j := range row {
		row[j] = unknownState
	}
	m.trans = append(m.trans, row)
	return i
}

// transition returns the state after byte b from state s (-1: none).
func (m *Matcher) transition(s int32, b byte) int32 {
	if t := m.trans[s][b]; t != unknownState {
		return t
	}
	next := m.stepInto(m.states[s], b, m.stepBuf[:0])
	m.stepBuf = next
	t := int32(-1)
	if len(next) > 0 {
		t = m.stateID(next)
	}
	m.trans[s][b] = t
	return t
}

// unknownState marks a transition not computed yet.
const unknownState = -2

// closedOf is closedBytes for numbered state s, computed once per mask
// through the transition table.
func (m *Matcher) closedOf(s int32) *byteSet {
	if !m.closedDone[s] {
		var set byteSet
		for b := 0; b < 256; b++ {
			if m.transition(s, byte(b)) == s {
				set.add(byte(b), byte(b))
			}
		}
		m.closedDone[s], m.closedSets[s] = true, set
	}
	return &m.closedSets[s]
}
