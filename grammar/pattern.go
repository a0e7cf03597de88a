package grammar

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// pattern translates a JSON Schema pattern (an ECMAScript regular
// expression: alternation, groups, classes, escapes \d \w \s and their
// negations, `.`, and the quantifiers * + ? {m} {m,} {m,n}) into a GBNF
// body matching the JSON text of the strings it matches: quotes, and
// backslashes, quotes and control characters escaped as JSON writes them.
// A pattern without ^ (or $) may have anything before (after) it.
func (c *schemaConv) pattern(pat, name, path string) (string, error) {
	p := &regexParser{src: pat, c: c}
	anchoredStart := strings.HasPrefix(pat, "^")
	if anchoredStart {
		p.pos = 1
	}
	body, err := p.alternation()
	if err != nil {
		return "", &SchemaError{path, fmt.Sprintf("pattern %q: %v", pat, err)}
	}
	anchoredEnd := false
	if p.pos < len(p.src) && p.src[p.pos] == '$' && p.pos == len(p.src)-1 {
		anchoredEnd = true
		p.pos++
	}
	if p.pos != len(p.src) {
		return "", &SchemaError{path, fmt.Sprintf("pattern %q: unexpected %q at offset %d", pat, p.src[p.pos:], p.pos)}
	}
	char := c.prim("char")
	out := `"\"" `
	if !anchoredStart {
		out += char + "* "
	}
	out += "(" + body + ")"
	if !anchoredEnd {
		out += " " + char + "*"
	}
	return out + ` "\""`, nil
}

type regexParser struct {
	src string
	pos int
	c   *schemaConv
}

func (p *regexParser) alternation() (string, error) {
	var alts []string
	for {
		seq, err := p.sequence()
		if err != nil {
			return "", err
		}
		alts = append(alts, seq)
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		return strings.Join(alts, " | "), nil
	}
}

func (p *regexParser) sequence() (string, error) {
	var items []string
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		if ch == '|' || ch == ')' || ch == '$' && p.pos == len(p.src)-1 {
			break
		}
		atom, err := p.atom()
		if err != nil {
			return "", err
		}
		q, err := p.quantifier()
		if err != nil {
			return "", err
		}
		if q != "" {
			atom = "(" + atom + ")" + q
		}
		items = append(items, atom)
	}
	if len(items) == 0 {
		return `""`, nil
	}
	return strings.Join(items, " "), nil
}

func (p *regexParser) quantifier() (string, error) {
	if p.pos >= len(p.src) {
		return "", nil
	}
	var q string
	switch p.src[p.pos] {
	case '*', '+', '?':
		q = p.src[p.pos : p.pos+1]
		p.pos++
	case '{':
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return "", fmt.Errorf("unclosed {")
		}
		q = p.src[p.pos : p.pos+end+1]
		for _, r := range q[1 : len(q)-1] {
			if r != ',' && (r < '0' || r > '9') {
				return "", fmt.Errorf("bad repetition %s", q)
			}
		}
		p.pos += end + 1
	default:
		return "", nil
	}
	if p.pos < len(p.src) && p.src[p.pos] == '?' {
		p.pos++ // lazy: the same language
	}
	return q, nil
}

func (p *regexParser) atom() (string, error) {
	ch := p.src[p.pos]
	switch ch {
	case '(':
		p.pos++
		if strings.HasPrefix(p.src[p.pos:], "?:") {
			p.pos += 2
		} else if strings.HasPrefix(p.src[p.pos:], "?") {
			return "", fmt.Errorf("lookarounds and named groups are not supported")
		}
		body, err := p.alternation()
		if err != nil {
			return "", err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return "", fmt.Errorf("unclosed (")
		}
		p.pos++
		return "(" + body + ")", nil
	case '[':
		rs, err := p.class()
		if err != nil {
			return "", err
		}
		return jsonClass(rs), nil
	case '.':
		p.pos++
		return jsonClass(complement([]cpRange{{'\n', '\n'}, {'\r', '\r'}})), nil
	case '^', '$':
		return "", fmt.Errorf("%q is supported only at the start or end", ch)
	case '*', '+', '?', '{':
		return "", fmt.Errorf("%q has nothing to repeat", ch)
	case '\\':
		rs, err := p.escape()
		if err != nil {
			return "", err
		}
		return jsonClass(rs), nil
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return jsonClass([]cpRange{{r, r}}), nil
}

// escape reads \x and returns its code points.
func (p *regexParser) escape() ([]cpRange, error) {
	if p.pos+1 >= len(p.src) {
		return nil, fmt.Errorf("trailing backslash")
	}
	e := p.src[p.pos+1]
	p.pos += 2
	digits := []cpRange{{'0', '9'}}
	word := []cpRange{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}
	space := []cpRange{{'\t', '\r'}, {' ', ' '}}
	switch e {
	case 'd':
		return digits, nil
	case 'D':
		return complement(digits), nil
	case 'w':
		return word, nil
	case 'W':
		return complement(word), nil
	case 's':
		return space, nil
	case 'S':
		return complement(space), nil
	case 'n':
		return []cpRange{{'\n', '\n'}}, nil
	case 't':
		return []cpRange{{'\t', '\t'}}, nil
	case 'r':
		return []cpRange{{'\r', '\r'}}, nil
	case 'b', 'B':
		return nil, fmt.Errorf("word boundaries are not supported")
	case 'u', 'x':
		n := 4
		if e == 'x' {
			n = 2
		}
		if p.pos+n > len(p.src) {
			return nil, fmt.Errorf("\\%c needs %d hex digits", e, n)
		}
		var v rune
		for _, h := range p.src[p.pos : p.pos+n] {
			d := strings.IndexRune("0123456789abcdef", h|0x20)
			if d < 0 {
				return nil, fmt.Errorf("\\%c needs %d hex digits", e, n)
			}
			v = v*16 + rune(d)
		}
		p.pos += n
		return []cpRange{{v, v}}, nil
	}
	if e >= '1' && e <= '9' {
		return nil, fmt.Errorf("back references are not supported")
	}
	r := rune(e)
	return []cpRange{{r, r}}, nil
}

// class reads [...] and returns its code points.
func (p *regexParser) class() ([]cpRange, error) {
	p.pos++ // [
	negate := false
	if p.pos < len(p.src) && p.src[p.pos] == '^' {
		negate = true
		p.pos++
	}
	var rs []cpRange
	first := true
	for {
		if p.pos >= len(p.src) {
			return nil, fmt.Errorf("unclosed [")
		}
		if p.src[p.pos] == ']' && !first {
			p.pos++
			break
		}
		first = false
		var lo []cpRange
		if p.src[p.pos] == '\\' {
			e, err := p.escape()
			if err != nil {
				return nil, err
			}
			lo = e
		} else {
			r, n := utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += n
			lo = []cpRange{{r, r}}
		}
		if len(lo) == 1 && lo[0].lo == lo[0].hi && p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			var hi rune
			if p.src[p.pos] == '\\' {
				e, err := p.escape()
				if err != nil || len(e) != 1 || e[0].lo != e[0].hi {
					return nil, fmt.Errorf("bad range in a class")
				}
				hi = e[0].lo
			} else {
				r, n := utf8.DecodeRuneInString(p.src[p.pos:])
				p.pos += n
				hi = r
			}
			if hi < lo[0].lo {
				return nil, fmt.Errorf("range %q-%q runs backwards", lo[0].lo, hi)
			}
			lo = []cpRange{{lo[0].lo, hi}}
		}
		rs = append(rs, lo...)
	}
	rs = normalize(rs)
	if negate {
		rs = complement(rs)
	}
	return rs, nil
}

// jsonClass matches one character of rs as it appears inside a JSON
// string: most as themselves, the quote, backslash and control characters
// as their escapes.
func jsonClass(rs []cpRange) string {
	rs = normalize(rs)
	var plain []cpRange
	var alts []string
	for _, r := range rs {
		for c := r.lo; c <= min(r.hi, 0x1f); c++ {
			alts = append(alts, jsonEscapeOf(c))
		}
		lo := max(r.lo, 0x20)
		for _, sp := range []rune{'"', '\\'} {
			if lo <= sp && sp <= r.hi {
				if sp > lo {
					plain = append(plain, cpRange{lo, sp - 1})
				}
				alts = append(alts, jsonEscapeOf(sp))
				lo = sp + 1
			}
		}
		if lo <= r.hi {
			plain = append(plain, cpRange{lo, r.hi})
		}
	}
	if len(plain) == 1 && plain[0].lo == plain[0].hi {
		alts = append([]string{literal(string(plain[0].lo))}, alts...)
	} else if len(plain) > 0 {
		var b strings.Builder
		b.WriteByte('[')
		for _, r := range plain {
			b.WriteString(classChar(r.lo))
			if r.hi != r.lo {
				b.WriteByte('-')
				b.WriteString(classChar(r.hi))
			}
		}
		b.WriteByte(']')
		alts = append([]string{b.String()}, alts...)
	}
	if len(alts) == 0 {
		return "[]"
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " | ") + ")"
}

// jsonEscapeOf is the GBNF literal of the JSON escape of r.
func jsonEscapeOf(r rune) string {
	switch r {
	case '"':
		return `"\\\""`
	case '\\':
		return `"\\\\"`
	case '\n':
		return `"\\n"`
	case '\r':
		return `"\\r"`
	case '\t':
		return `"\\t"`
	}
	return fmt.Sprintf(`"\\u%04x"`, r)
}
