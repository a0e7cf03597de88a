// Package grammar is a GBNF grammar engine: llama.cpp's grammar language,
// compiled to a byte-level recogniser that constrains generation one byte
// (and so one token) at a time.
//
// A grammar is a list of rules `name ::= alternatives`; the rule named
// root is the start. Alternatives are sequences of literals ("…" with \n,
// \r, \t, \\, \", \[, \], \xHH, \uHHHH and \UHHHHHHHH escapes), character
// classes ([a-z], [^"\\], ranges and escapes), `.` (any character), rule
// names and parenthesised groups, each optionally repeated with *, +, ?,
// {m}, {m,} or {m,n}. `#` starts a comment to the end of the line.
//
// Matching works on the UTF-8 bytes of the text, so a token that ends in
// the middle of a character is accepted as far as it goes.
package grammar

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// item kinds of the syntax tree.
const (
	itLiteral = iota // bytes, in order
	itClass          // one character of a set of code-point ranges
	itRef            // a rule by name
	itGroup          // parenthesised alternatives
)

// item is one element of a sequence, with its repetition bounds (max < 0:
// unbounded).
type item struct {
	kind     int
	lit      []byte
	ranges   []cpRange // itClass: sorted, merged, after negation
	name     string    // itRef
	alts     [][]item  // itGroup
	min, max int
	line     int
	col      int
}

// cpRange is an inclusive range of code points.
type cpRange struct{ lo, hi rune }

// syntaxRule is a parsed rule.
type syntaxRule struct {
	name      string
	alts      [][]item
	line, col int
}

// Error is a grammar that does not compile: where and what.
type Error struct {
	Line, Col int    // 1-based; 0 when the error is about the whole grammar
	Rule      string // the rule being parsed or at fault, if any
	Msg       string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("grammar: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Col)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxRepeat bounds {m,n} counts, which expand into copies.
const maxRepeat = 10000

type parser struct {
	src  string
	pos  int
	rule string // the rule being parsed
}

func (p *parser) lineCol(pos int) (int, int) {
	line := 1 + strings.Count(p.src[:pos], "\n")
	col := pos - strings.LastIndexByte(p.src[:pos], '\n')
	return line, col
}

func (p *parser) errAt(pos int, format string, a ...any) *Error {
	l, c := p.lineCol(pos)
	return &Error{Line: l, Col: c, Rule: p.rule, Msg: fmt.Sprintf(format, a...)}
}

// space skips blanks and comments; newlines too when newlines is set.
func (p *parser) space(newlines bool) {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case (c == '\n' || c == '\r') && newlines:
			p.pos++
		default:
			return
		}
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func (p *parser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isWordChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// parseRules parses the whole source.
func parseRules(src string) ([]syntaxRule, error) {
	p := &parser{src: src}
	var rules []syntaxRule
	seen := map[string]int{}
	for {
		p.space(true)
		if p.pos >= len(p.src) {
			break
		}
		start := p.pos
		name := p.name()
		if name == "" {
			return nil, p.errAt(p.pos, "expected a rule name, found %q", p.peekText())
		}
		p.rule = name
		line, col := p.lineCol(start)
		p.space(false)
		if !strings.HasPrefix(p.src[p.pos:], "::=") {
			return nil, p.errAt(p.pos, "expected ::= after the rule name, found %q", p.peekText())
		}
		p.pos += 3
		p.space(true)
		alts, err := p.alternatives(false)
		if err != nil {
			return nil, err
		}
		if i, dup := seen[name]; dup {
			// llama.cpp lets a later definition replace an earlier one.
			rules[i].alts = alts
		} else {
			seen[name] = len(rules)
			rules = append(rules, syntaxRule{name: name, alts: alts, line: line, col: col})
		}
		p.space(false)
		if p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
			return nil, p.errAt(p.pos, "expected the end of the rule, found %q", p.peekText())
		}
		p.rule = ""
	}
	return rules, nil
}

func (p *parser) peekText() string {
	end := min(len(p.src), p.pos+12)
	if i := strings.IndexByte(p.src[p.pos:end], '\n'); i >= 0 {
		end = p.pos + i
	}
	if p.pos >= len(p.src) {
		return "end of input"
	}
	return p.src[p.pos:end]
}

// alternatives parses seq ('|' seq)*.
func (p *parser) alternatives(nested bool) ([][]item, error) {
	var alts [][]item
	for {
		seq, err := p.sequence(nested)
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			p.space(true)
			continue
		}
		return alts, nil
	}
}

// sequence parses items up to '|', ')' or (at top level) the end of line.
func (p *parser) sequence(nested bool) ([]item, error) {
	var seq []item
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		start := p.pos
		line, col := p.lineCol(start)
		switch {
		case c == '"':
			p.pos++
			var lit []byte
			for {
				if p.pos >= len(p.src) {
					return nil, p.errAt(start, "unterminated literal")
				}
				if p.src[p.pos] == '"' {
					p.pos++
					break
				}
				r, err := p.char()
				if err != nil {
					return nil, err
				}
				lit = utf8.AppendRune(lit, r)
			}
			seq = append(seq, item{kind: itLiteral, lit: lit, min: 1, max: 1, line: line, col: col})
		case c == '[':
			p.pos++
			negate := false
			if p.pos < len(p.src) && p.src[p.pos] == '^' {
				negate = true
				p.pos++
			}
			var rs []cpRange
			for {
				if p.pos >= len(p.src) {
					return nil, p.errAt(start, "unterminated character class")
				}
				if p.src[p.pos] == ']' {
					p.pos++
					break
				}
				lo, err := p.char()
				if err != nil {
					return nil, err
				}
				hi := lo
				if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
					p.pos++
					if hi, err = p.char(); err != nil {
						return nil, err
					}
					if hi < lo {
						return nil, p.errAt(start, "character range %q-%q runs backwards", lo, hi)
					}
				}
				rs = append(rs, cpRange{lo, hi})
			}
			rs = normalize(rs)
			if negate {
				rs = complement(rs)
			}
			seq = append(seq, item{kind: itClass, ranges: rs, min: 1, max: 1, line: line, col: col})
		case c == '.':
			p.pos++
			seq = append(seq, item{kind: itClass, ranges: []cpRange{{0, utf8.MaxRune}}, min: 1, max: 1, line: line, col: col})
		case isWordChar(c):
			name := p.name()
			seq = append(seq, item{kind: itRef, name: name, min: 1, max: 1, line: line, col: col})
		case c == '(':
			p.pos++
			p.space(true)
			alts, err := p.alternatives(true)
			if err != nil {
				return nil, err
			}
			if p.pos >= len(p.src) || p.src[p.pos] != ')' {
				return nil, p.errAt(start, "unclosed parenthesis")
			}
			p.pos++
			seq = append(seq, item{kind: itGroup, alts: alts, min: 1, max: 1, line: line, col: col})
		case c == '*' || c == '+' || c == '?' || c == '{':
			if len(seq) == 0 {
				return nil, p.errAt(start, "%q has nothing before it to repeat", c)
			}
			last := &seq[len(seq)-1]
			if last.min != 1 || last.max != 1 {
				return nil, p.errAt(start, "%q repeats a repetition (use parentheses)", c)
			}
			p.pos++
			switch c {
			case '*':
				last.min, last.max = 0, -1
			case '+':
				last.min, last.max = 1, -1
			case '?':
				last.min, last.max = 0, 1
			case '{':
				lo, hi, err := p.braces(start)
				if err != nil {
					return nil, err
				}
				last.min, last.max = lo, hi
			}
		case c == '<':
			return nil, p.errAt(start, "token references (<[id]> or <token>) are not supported")
		case c == '|' || c == ')':
			return seq, nil
		case c == '\n' || c == '\r':
			if !nested {
				return seq, nil
			}
			p.space(true)
			continue
		default:
			return nil, p.errAt(start, "unexpected %q", p.peekText())
		}
		p.space(nested)
	}
	return seq, nil
}

// braces parses m}, m,} or m,n} after '{'.
func (p *parser) braces(start int) (int, int, error) {
	num := func() (int, bool) {
		p.space(false)
		s := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if s == p.pos {
			return 0, false
		}
		n, err := strconv.Atoi(p.src[s:p.pos])
		if err != nil || n > maxRepeat {
			return maxRepeat + 1, true
		}
		return n, true
	}
	lo, ok := num()
	if !ok {
		return 0, 0, p.errAt(start, "expected a number after {")
	}
	hi := lo
	p.space(false)
	if p.pos < len(p.src) && p.src[p.pos] == ',' {
		p.pos++
		var ok bool
		if hi, ok = num(); !ok {
			hi = -1
		}
		p.space(false)
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return 0, 0, p.errAt(start, "expected } to close the repetition")
	}
	p.pos++
	switch {
	case lo > maxRepeat || hi > maxRepeat:
		return 0, 0, p.errAt(start, "repetition counts above %d are not supported", maxRepeat)
	case hi >= 0 && hi < lo:
		return 0, 0, p.errAt(start, "repetition {%d,%d}: the maximum is below the minimum", lo, hi)
	}
	return lo, hi, nil
}

// char reads one character of a literal or class, escapes included.
func (p *parser) char() (rune, error) {
	start := p.pos
	c := p.src[p.pos]
	if c != '\\' {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if r == utf8.RuneError && n <= 1 {
			return 0, p.errAt(start, "invalid UTF-8 in the grammar")
		}
		p.pos += n
		return r, nil
	}
	if p.pos+1 >= len(p.src) {
		return 0, p.errAt(start, "unfinished escape")
	}
	e := p.src[p.pos+1]
	p.pos += 2
	hex := func(n int) (rune, error) {
		if p.pos+n > len(p.src) {
			return 0, p.errAt(start, "\\%c needs %d hex digits", e, n)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
		if err != nil {
			return 0, p.errAt(start, "\\%c needs %d hex digits", e, n)
		}
		p.pos += n
		if v > utf8.MaxRune {
			return 0, p.errAt(start, "code point %#x is beyond Unicode", v)
		}
		return rune(v), nil
	}
	switch e {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case '\\', '"', '[', ']', '-', '^', '.', '/', '(', ')', '|', '*', '+', '?', '{', '}':
		return rune(e), nil
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	}
	return 0, p.errAt(start, "unknown escape \\%c", e)
}

// normalize sorts and merges ranges.
func normalize(rs []cpRange) []cpRange {
	if len(rs) == 0 {
		return nil
	}
	sorted := append([]cpRange(nil), rs...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].lo < sorted[j-1].lo; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	out := []cpRange{sorted[0]}
	for _, r := range sorted[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
		} else {
			out = append(out, r)
		}
	}
	return out
}

// complement returns the code points of [0, MaxRune] outside rs (sorted,
// merged).
func complement(rs []cpRange) []cpRange {
	var out []cpRange
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			out = append(out, cpRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, cpRange{next, utf8.MaxRune})
	}
	return out
}
