package tokenizer

import (
	"hash/maphash"
	"unsafe"
)

// idTable maps token texts to ids: open addressing over one slice, each slot
// holding a 32-bit fingerprint of the text's hash and the id, so that a
// probe rarely compares strings. It is built once and then only read.
type idTable struct {
	slots  []uint64 // fingerprint<<32 | id+1; 0 marks an empty slot
	mask   uint64
	seed   maphash.Seed
	tokens []string
}

func newIDTable(tokens []string) *idTable {
	size := 1
	for size < 2*len(tokens)+2 {
		size <<= 1
	}
	return &idTable{slots: make([]uint64, size), mask: uint64(size - 1), seed: maphash.MakeSeed(), tokens: tokens}
}

// insert adds s as id; when s is already there it returns the first id.
func (m *idTable) insert(s string, id int32) (int32, bool) {
	h := maphash.String(m.seed, s)
	fp := h >> 32
	for i := h & m.mask; ; i = (i + 1) & m.mask {
		v := m.slots[i]
		if v == 0 {
			m.slots[i] = fp<<32 | uint64(id+1)
			return id, false
		}
		if v>>32 == fp && m.tokens[uint32(v)-1] == s {
			return int32(uint32(v) - 1), true
		}
	}
}

func (m *idTable) lookup(s string, h uint64) (int32, bool) {
	fp := h >> 32
	for i := h & m.mask; ; i = (i + 1) & m.mask {
		v := m.slots[i]
		if v == 0 {
			return -1, false
		}
		if v>>32 == fp && m.tokens[uint32(v)-1] == s {
			return int32(uint32(v) - 1), true
		}
	}
}

// get returns the id of the token whose text is s.
func (m *idTable) get(s string) (int32, bool) {
	return m.lookup(s, maphash.String(m.seed, s))
}

// getBytes is get for a byte slice, without copying it.
func (m *idTable) getBytes(b []byte) (int32, bool) {
	return m.get(unsafe.String(unsafe.SliceData(b), len(b)))
}
