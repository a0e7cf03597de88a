package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Piece returns the bytes token id stands for (SentencePiece ▁ as a space,
// byte tokens as their byte). Control and unknown tokens give their text
// only when special is true. An id outside the vocabulary gives "".
func (t *Tokenizer) Piece(id int32, special bool) string {
	if !t.valid(id) {
		return ""
	}
	a := t.attrs[id]
	if !special && a&(attrControl|attrUnknown) != 0 {
		return ""
	}
	return t.piece(id)
}

// piece is llama_token_to_piece with special = true.
func (t *Tokenizer) piece(id int32) string {
	a, text := t.attrs[id], t.tokens[id]
	switch {
	case a&(attrControl|attrUnknown|attrUserDefined) != 0:
		return text
	case a&attrNormal != 0:
		if t.fam != famBPE || t.escapeSpaces {
			return strings.ReplaceAll(text, spaceMarker, " ")
		}
		return byteLevelDecode(text)
	case a&attrByte != 0:
		return string([]byte{hexByte(text)})
	}
	return "" // unused and undefined tokens
}

// hexByte reads the byte of a "<0xXX>" token as strtol would (0 when there
// are no hex digits).
func hexByte(s string) byte {
	var v byte
	for i := 3; i < len(s) && i < 5; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | (c - 'A' + 10)
		default:
			return v
		}
	}
	return v
}

// byteLevelDecode maps each code point of a byte-level BPE token back to
// its byte; a code point outside the mapping is written as the reference
// writes it.
func byteLevelDecode(text string) string {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); {
		r, n := decodeRune(text, i)
		i += n
		if b, ok := runeByte[r]; ok {
			out = append(out, b)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, c := range appendRune(nil, r) {
			out = fmt.Appendf(out, "%02x", c)
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return string(out)
}

// Decode concatenates the pieces of ids (llama_token_to_piece with
// lstrip 0), as a generation loop prints them.
func (t *Tokenizer) Decode(ids []int32, special bool) string {
	var b []byte
	for _, id := range ids {
		b = append(b, t.Piece(id, special)...)
	}
	return string(b)
}

// Detokenize is llama_detokenize (remove_special false, unparse_special
// special): like Decode, but the space SentencePiece puts before the first
// word is dropped, and vocabularies that ask for it get their spaces before
// punctuation cleaned up (clean_up_tokenization_spaces). It inverts Encode
// on ordinary text.
func (t *Tokenizer) Detokenize(ids []int32, special bool) string {
	var b []byte
	for i, id := range ids {
		p := t.Piece(id, special)
		if i == 0 && t.addSpacePrefix && strings.HasPrefix(p, " ") {
			p = p[1:]
		}
		b = append(b, p...)
	}
	if t.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces is clean_up_tokenization_spaces as the reference does it, in
// three passes: " ?", " !", " .", " ," lose the space; a lone quote between
// spaces loses both; " 's", " 'm", " 're", " 've" lose the space.
func cleanSpaces(t []byte) []byte {
	if len(t) == 0 {
		return t
	}
	// Pass 1.
	out := t[:1]
	for i := 1; i < len(t); i++ {
		x := t[i]
		if t[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			out = out[:len(out)-1]
		}
		out = append(out, x)
	}
	// Pass 2: the space after the quote is consumed and cannot start or
	// close another pattern.
	t = out
	out = t[:1]
	eaten := -1
	for i := 1; i < len(t); i++ {
		x := t[i]
		if x == '\'' && i+1 < len(t) && t[i-1] == ' ' && i-1 != eaten && t[i+1] == ' ' {
			out = out[:len(out)-1]
			out = append(out, x)
			eaten = i + 1
			i++
			continue
		}
		out = append(out, x)
	}
	// Pass 3.
	t = out
	out = t[:1]
	for i := 1; i < len(t); i++ {
		x := t[i]
		if t[i-1] == ' ' && x == '\'' && i+1 < len(t) {
			x1 := t[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				out = out[:len(out)-1]
			case i+2 < len(t) && ((x1 == 'r' && t[i+2] == 'e') || (x1 == 'v' && t[i+2] == 'e')):
				out = out[:len(out)-1]
			}
		}
		out = append(out, x)
	}
	return out
}

// StreamDecoder turns a stream of token ids into text without ever
// splitting a UTF-8 character: bytes of an incomplete character are held
// back until the character is complete. All its output together equals
// Decode of all the ids.
type StreamDecoder struct {
	t       *Tokenizer
	special bool
	pend    []byte
}

// NewStreamDecoder returns a decoder; special controls whether control
// tokens are rendered as their text.
func (t *Tokenizer) NewStreamDecoder(special bool) *StreamDecoder {
	return &StreamDecoder{t: t, special: special}
}

// Add consumes one token and returns the text that is now complete.
func (d *StreamDecoder) Add(id int32) string {
	d.pend = append(d.pend, d.t.Piece(id, d.special)...)
	cut := len(d.pend) - incompleteTail(d.pend)
	if cut == 0 {
		return ""
	}
	out := string(d.pend[:cut])
	d.pend = append(d.pend[:0], d.pend[cut:]...)
	return out
}

// Flush returns whatever bytes are held back (possibly invalid UTF-8).
func (d *StreamDecoder) Flush() string {
	s := string(d.pend)
	d.pend = d.pend[:0]
	return s
}

// incompleteTail is the length of a trailing prefix of a UTF-8 sequence
// that more bytes could complete (0 if none).
func incompleteTail(p []byte) int {
	for k := 1; k <= 3 && k <= len(p); k++ {
		b := p[len(p)-k]
		if b&0xC0 == 0x80 {
			continue // continuation byte: look further back
		}
		if utf8.RuneStart(b) && !utf8.FullRune(p[len(p)-k:]) {
			return k
		}
		return 0
	}
	return 0
}
