package tokenizer

import (
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Code point classes as llama.cpp's pre-tokenizers see them. The reference
// derives them from UnicodeData.txt (Unicode 15.1): one general category per
// code point, plus its own whitespace set. They are rebuilt here from Go's
// unicode tables (Unicode 15.0) and patched with the 15.1 additions.
const (
	catUndefined uint8 = iota // Cn, and anything past U+10FFFF
	catNumber                 // Nd Nl No
	catLetter                 // Lu Ll Lt Lm Lo
	catSeparator              // Zs Zl Zp
	catMark                   // Mn Mc Me
	catPunct                  // Pc Pd Ps Pe Pi Pf Po
	catSymbol                 // Sm Sc Sk So
	catControl                // Cc Cf Cs Co

	catMask      uint8 = 7
	flagSpace    uint8 = 8 // in the reference's whitespace set
	maxCodepoint       = 0x110000
)

var (
	cpTableOnce sync.Once
	cpTable     []uint8
)

// cpClass returns the category (low bits) and the whitespace flag of r.
func cpClass(r rune) uint8 {
	if r < 0x80 {
		return asciiClass[r]
	}
	if r >= maxCodepoint || r < 0 {
		return catUndefined
	}
	cpTableOnce.Do(buildCPTable)
	return cpTable[r]
}

var asciiClass = func() (t [128]uint8) {
	for r := range rune(128) {
		for _, g := range catGroups {
			for _, name := range g.names {
				if unicode.Is(unicode.Categories[name], r) {
					t[r] = g.cat
				}
			}
		}
		switch r {
		case 9, 10, 11, 12, 13, 32:
			t[r] |= flagSpace
		}
	}
	return t
}()

var catGroups = []struct {
	cat   uint8
	names []string
}{
	{catNumber, []string{"Nd", "Nl", "No"}},
	{catLetter, []string{"Lu", "Ll", "Lt", "Lm", "Lo"}},
	{catSeparator, []string{"Zs", "Zl", "Zp"}},
	{catMark, []string{"Mn", "Mc", "Me"}},
	{catPunct, []string{"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"}},
	{catSymbol, []string{"Sm", "Sc", "Sk", "So"}},
	{catControl, []string{"Cc", "Cf", "Cs", "Co"}},
}

func buildCPTable() {
	t := make([]uint8, maxCodepoint)
	for _, g := range catGroups {
		for _, name := range g.names {
			tab := unicode.Categories[name]
			for _, r := range tab.R16 {
				for c := uint32(r.Lo); c <= uint32(r.Hi); c += uint32(r.Stride) {
					t[c] = g.cat
				}
			}
			for _, r := range tab.R32 {
				for c := r.Lo; c <= r.Hi; c += r.Stride {
					t[c] = g.cat
				}
			}
		}
	}
	// Unicode 15.1 additions, which the reference's tables include.
	for c := 0x2EBF0; c <= 0x2EE5D; c++ { // CJK Unified Ideographs Extension I
		t[c] = catLetter
	}
	for c := 0x2FFC; c <= 0x2FFF; c++ { // ideographic description characters
		t[c] = catSymbol
	}
	t[0x31EF] = catSymbol // CJK stroke HXG
	for _, c := range []int{9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
		0x2028, 0x2029, 0x202F, 0x205F, 0x3000} {
		t[c] |= flagSpace
	}
	cpTable = t
}

func isLetter(c uint8) bool { return c&catMask == catLetter }
func isNumber(c uint8) bool { return c&catMask == catNumber }
func isSpace(c uint8) bool  { return c&flagSpace != 0 }
func isMark(c uint8) bool   { return c&catMask == catMark }
func isPunct(c uint8) bool  { return c&catMask == catPunct }

// decodeRune decodes one code point at s[i:] the way llama.cpp does: a lead
// byte decides the length, only the continuation bytes are checked (so
// overlong forms and surrogates pass), and a bad sequence yields U+FFFD for
// one byte.
func decodeRune(s string, i int) (rune, int) {
	b0 := s[i]
	switch {
	case b0 < 0x80:
		return rune(b0), 1
	case b0 < 0xC0:
		return 0xFFFD, 1
	case b0 < 0xE0:
		if i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			return rune(b0&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case b0 < 0xF0:
		if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			return rune(b0&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	case b0 < 0xF8:
		if i+3 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80 {
			return rune(b0&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F), 4
		}
	}
	return 0xFFFD, 1
}

// runeLen is the length of r's encoding by appendRune.
func runeLen(r rune) int {
	switch {
	case r < 0x80:
		return 1
	case r < 0x800:
		return 2
	case r < 0x10000:
		return 3
	}
	return 4
}

// appendRune encodes r without Go's checks (surrogates are kept, as the
// reference keeps them). Values past U+10FFFF, which only a malformed
// 4-byte sequence yields, get the 4-byte pattern back.
func appendRune(b []byte, r rune) []byte {
	switch runeLen(r) {
	case 1:
		return append(b, byte(r))
	case 2:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case 3:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return append(b, 0xF0|byte(r>>18)&0x07, 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
}

// canonical returns s as the reference sees it after decoding to code points
// and encoding back: invalid bytes become U+FFFD and overlong forms shrink.
// Valid text is returned as is.
func canonical(s string) string {
	for i := 0; i < len(s); {
		if s[i] < 0x80 {
			i++
			continue
		}
		r, n := decodeRune(s, i)
		if runeLen(r) != n {
			return recode(s)
		}
		i += n
	}
	return s
}

func recode(s string) string {
	b := make([]byte, 0, len(s)+16)
	for i := 0; i < len(s); {
		r, n := decodeRune(s, i)
		b = appendRune(b, r)
		i += n
	}
	return string(b)
}

// utf8Len is the reference's unicode_len_utf8: the length a lead byte
// announces (1 for continuation bytes).
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// GPT-2's reversible mapping of bytes to printable code points.
var (
	byteRune  [256]rune
	byteChars [256]string // UTF-8 of byteRune
	runeByte  = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = rune(256 + n)
			n++
		}
		byteChars[b] = string(appendRune(nil, byteRune[b]))
		runeByte[byteRune[b]] = byte(b)
	}
}

// toLower is the simple lowercase mapping of UnicodeData.txt.
func toLower(r rune) rune {
	if r < 0x80 {
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return r
	}
	return unicode.ToLower(r)
}

// nfdFirst is the first code point of r's canonical decomposition (the
// reference's per-code-point NFD table keeps only that one).
func nfdFirst(r rune) rune {
	if r < 0xC0 || r >= maxCodepoint || (r >= 0xD800 && r < 0xE000) {
		return r
	}
	var buf [4]byte
	d := norm.NFD.String(string(appendRune(buf[:0], r)))
	if d == "" {
		return r
	}
	f, _ := decodeRune(d, 0)
	return f
}
