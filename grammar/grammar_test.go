package grammar

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// The UTF-8 byte sequences of a code-point range match exactly the
// encodings of its code points: checked against utf8.EncodeRune for every
// code point of random ranges and of the boundary ones.
func TestUTF8Sequences(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ranges := []cpRange{{0x80, 0x7ff}, {0x7f, 0x80}, {0x800, 0xd7ff}, {0xe000, 0xffff}, {0x10000, 0x10ffff}, {0x7ff, 0x10000}, {0xe9, 0xe9}}
	for i := 0; i < 40; i++ {
		lo := rune(r.IntN(0x110000))
		hi := lo + rune(r.IntN(5000))
		ranges = append(ranges, cpRange{lo, min(hi, 0x10ffff)})
	}
	for _, rg := range ranges {
		in := map[string]bool{}
		for _, sub := range splitSurrogates(rg) {
			for c := sub.lo; c <= sub.hi; c++ {
				in[string(utf8.AppendRune(nil, c))] = true
			}
		}
		matched := 0
		for _, sub := range splitSurrogates(rg) {
			for _, seq := range utf8Sequences(sub.lo, sub.hi) {
				// Enumerate every byte string of the sequence (small ranges
				// only; the large ones are checked by counting).
				count := 1
				for _, br := range seq {
					count *= int(br[1]) - int(br[0]) + 1
				}
				matched += count
				if count > 20000 {
					continue
				}
				var walk func(i int, b []byte)
				walk = func(i int, b []byte) {
					if i == len(seq) {
						if !in[string(b)] {
							t.Fatalf("range %x-%x: sequence matches %x, not in the range", rg.lo, rg.hi, b)
						}
						return
					}
					for c := int(seq[i][0]); c <= int(seq[i][1]); c++ {
						walk(i+1, append(b, byte(c)))
					}
				}
				walk(0, nil)
			}
		}
		if matched != len(in) {
			t.Fatalf("range %x-%x: sequences cover %d strings, the range has %d code points", rg.lo, rg.hi, matched, len(in))
		}
	}
}

// Literals and classes with escapes, any-character, negation and counted
// repetitions, matched byte by byte including tokens cut mid-character.
func TestLanguage(t *testing.T) {
	cases := []struct {
		src        string
		pass, fail []string
	}{
		{`root ::= "a\n\t\"\\\x41\u00e9\U0001F600"`, []string{"a\n\t\"\\Aé😀"}, []string{"a\n\t\"\\Ae😀", ""}},
		{`root ::= [^"\\]*`, []string{"", "abc", "é漢😀", "a'b"}, []string{`"`, `a\b`}},
		{`root ::= .{2}`, []string{"ab", "éé", "😀😀", "a漢"}, []string{"a", "abc", "😀"}},
		{`root ::= [a-c\x41-\x43]+ # a comment`, []string{"aC", "cba"}, []string{"d", ""}},
		{`root ::= ("ab" | "c"){2,3}`, []string{"abab", "cab", "ccc"}, []string{"c", "cccc", "abc "}},
		{"root ::= a b\na ::= \"x\"?\nb ::= [0-9]{1,}", []string{"x1", "1", "x123"}, []string{"x", ""}},
		{"root ::= (\n  \"a\"\n  | \"b\"\n)", []string{"a", "b"}, []string{"ab"}},
		{`root ::= [-a]`, []string{"-", "a"}, []string{"b"}},
		{`root ::= []`, nil, []string{"", "a"}},
	}
	for _, c := range cases {
		g, err := Compile(c.src)
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		for _, s := range c.pass {
			if !g.Match(s) {
				t.Errorf("%q refuses %q", c.src, s)
			}
		}
		for _, s := range c.fail {
			if g.Match(s) {
				t.Errorf("%q accepts %q", c.src, s)
			}
		}
	}
	// A multi-byte character accepted one byte at a time, and a wrong
	// continuation byte refused.
	g, _ := Compile(`root ::= "é" "!"`)
	m := g.NewMatcher()
	if !m.Accept(0xc3) || m.CanEnd() || m.Accept(0xa8) || !m.Accept(0xa9) || !m.AcceptBytes("!") || !m.CanEnd() || !m.Dead() {
		t.Error("é! byte by byte")
	}
}

// Parse and check errors name the line, column and rule.
func TestErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"root ::= \"a", `line 1, column 10: rule "root": unterminated literal`},
		{"root ::= x\nx ::= [a-", `line 2, column 7: rule "x": unterminated character class`},
		{"root ::= (\"a\"", "unclosed parenthesis"},
		{"root ::= *", `nothing before it to repeat`},
		{"root ::= \"a\"{3,1}", "maximum is below the minimum"},
		{"root ::= \"a\"{99999999}", "above 10000"},
		{"root = \"a\"", `line 1, column 6: rule "root": expected ::=`},
		{"root ::= \"\\q\"", `unknown escape \q`},
		{"root ::= <[42]>", "token references"},
		{"root ::= [z-a]", "runs backwards"},
		{"root ::= a\na ::= b\nb ::= a \"x\"", "left recursion"},
		{"root ::= e root \"y\"\ne ::= \"x\"?", "left recursion"},
		{"root ::= \"a\" @", `unexpected "@"`},
	}
	for _, c := range cases {
		_, err := Compile(c.src + strings.Repeat("", 0))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

// FuzzCompile: no source makes compiling or matching panic or hang.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{`root ::= "a"*`, `root ::= ( [x]* )*`, "root ::= a\na ::= \"b\" | a", `root ::= [^a-z]{2,5} .`, `root ::= ("a"? "b"?)*`} {
		f.Add(s, "ab")
	}
	f.Fuzz(func(t *testing.T, src, text string) {
		g, err := Compile(src)
		if err != nil {
			return
		}
		g.Match(text)
	})
}
