package tokenizer

import (
	"strings"
)

// fragment is a piece of the input: raw text, or a special token found in it.
type fragment struct {
	text string
	id   int32 // -1 for text
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// partition splits out the special tokens, longest first. User-defined
// tokens are always split out; control and unknown tokens only with
// parseSpecial. A token with lstrip/rstrip eats the whitespace beside it.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{text: text, id: -1}}
	if text == "" {
		return nil
	}
	var next []fragment
	var present []bool
	if t.specialIdx != nil {
		present = t.specialIdx.present(t, text)
	}
	for k, id := range t.specials {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		if present != nil && !present[k] {
			continue
		}
		tok := t.tokens[id]
		found := false
		for _, f := range frags {
			if f.id < 0 && strings.Contains(f.text, tok) {
				found = true
				break
			}
		}
		if !found {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.id >= 0 {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, tok)
				if i < 0 {
					if s != "" {
						next = append(next, fragment{text: s, id: -1})
					}
					break
				}
				left := s[:i]
				if a&attrLStrip != 0 {
					for left != "" && isCSpace(left[len(left)-1]) {
						left = left[:len(left)-1]
					}
				}
				if left != "" {
					next = append(next, fragment{text: left, id: -1})
				}
				next = append(next, fragment{id: id})
				s = s[i+len(tok):]
				if a&attrRStrip != 0 {
					for s != "" && isCSpace(s[0]) {
						s = s[1:]
					}
				}
			}
		}
		frags, next = next, frags
	}
	return frags
}

// specialIndex finds which of many special tokens occur in a text in one
// pass, instead of one search per token.
type specialIndex struct {
	first    [256]bool
	byPrefix map[string][]int32 // first (up to) 4 bytes -> positions in specials
}

const specialPrefix = 4

func newSpecialIndex(t *Tokenizer) *specialIndex {
	x := &specialIndex{byPrefix: map[string][]int32{}}
	for k, id := range t.specials {
		tok := t.tokens[id]
		x.first[tok[0]] = true
		p := tok[:min(len(tok), specialPrefix)]
		x.byPrefix[p] = append(x.byPrefix[p], int32(k))
	}
	return x
}

// present reports, for each special token, whether it occurs in text.
func (x *specialIndex) present(t *Tokenizer, text string) []bool {
	out := make([]bool, len(t.specials))
	for i := 0; i < len(text); i++ {
		if !x.first[text[i]] {
			continue
		}
		for n := 1; n <= specialPrefix && i+n <= len(text); n++ {
			for _, k := range x.byPrefix[text[i:i+n]] {
				if !out[k] && strings.HasPrefix(text[i:], t.tokens[t.specials[k]]) {
					out[k] = true
				}
			}
		}
	}
	return out
}

// Encode tokenizes text. addSpecial adds BOS/EOS as the vocabulary asks
// (add_bos_token/add_eos_token and family defaults); parseSpecial turns the
// text of control tokens into those tokens.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	frags := t.partition(text, parseSpecial)
	out := make([]int32, 0, len(text)/3+4)
	switch t.fam {
	case famSPM:
		if addSpecial && t.addBOS && t.bos >= 0 {
			out = append(out, t.bos)
		}
		var sc spmScratch
		prevSpecial := true
		for _, f := range frags {
			if f.id >= 0 {
				out = append(out, f.id)
				prevSpecial = true
				continue
			}
			s := f.text
			if t.addSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.spmText(strings.ReplaceAll(s, " ", spaceMarker), out, &sc)
			prevSpecial = false
		}
		if addSpecial && t.addEOS && t.eos >= 0 {
			out = append(out, t.eos)
		}
	case famBPE:
		if addSpecial && t.addBOS && t.bos >= 0 {
			out = append(out, t.bos)
		}
		var sc scratch
		for _, f := range frags {
			if f.id >= 0 {
				out = append(out, f.id)
				continue
			}
			s := f.text
			if t.escapeSpaces {
				s = strings.ReplaceAll(s, " ", spaceMarker)
			}
			out = t.bpeText(s, out, &sc)
		}
		if addSpecial && t.addEOS && t.eos >= 0 {
			out = append(out, t.eos)
		}
	case famWPM:
		if addSpecial && t.bos >= 0 {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.id >= 0 {
				out = append(out, f.id)
				continue
			}
			out = t.wpmText(f.text, out)
		}
		if addSpecial && t.sep >= 0 {
			out = append(out, t.sep)
		}
	}
	return out
}

// wpmText is WordPiece: BERT's normalization and splitting, then the
// longest tokens from the left, each word starting with a space marker.
func (t *Tokenizer) wpmText(text string, out []int32) []int32 {
	var words []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(text); {
		r, n := decodeRune(text, i)
		i += n
		if t.stripAccent {
			r = nfdFirst(r)
		}
		c := cpClass(r)
		if isSpace(c) {
			flush()
			continue
		}
		if r == 0 || r == 0xFFFD || c&catMask == catControl {
			continue
		}
		if t.stripAccent && isMark(c) {
			continue
		}
		alone := isPunct(c) || (r < 0x7F && c&catMask == catSymbol) || isCJK(r)
		if t.lowercase {
			r = toLower(r)
		}
		if alone {
			flush()
			words = append(words, string(appendRune(nil, r)))
			continue
		}
		cur = appendRune(cur, r)
	}
	flush()
	for _, w := range words {
		w1 := spaceMarker + w
		n := len(out)
		for i := 0; i < len(w1); {
			match := false
			for j := min(len(w1), i+t.maxTokenLen+1); j > i; j-- {
				if id, ok := t.ids.get(w1[i:j]); ok {
					out = append(out, id)
					i = j
					match = true
					break
				}
			}
			if !match {
				out = out[:n]
				break
			}
		}
		if len(out) == n && t.unk >= 0 {
			out = append(out, t.unk)
		}
	}
	return out
}

// isCJK is BERT's test for Chinese characters.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
