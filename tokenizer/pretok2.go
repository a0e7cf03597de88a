package tokenizer

// Pre-tokenizers of the reference that the vocab folder has no vectors for.
// They follow the same method as pretok.go: ECMAScript semantics over the
// reference's collapsed classes, where every non-ASCII letter counts as
// both upper and lower case, and \p{Lu}, \p{Ll}… all mean \p{L}.

// casedStyle is GPT-4o's expression as the reference runs it:
//
//	[^\r\n\p{L}\p{N}]?U*W+C?|[^\r\n\p{L}\p{N}]?U+W*C?|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// with U a letter other than a-z, W a letter other than A-Z and C an
// optional contraction. Tekken has no contractions and single digits;
// marks adds \p{M} to the letters (granite-embed-multi-97m).
type casedStyle struct {
	digits       int
	contractions bool
	marks        bool
}

func (c casedStyle) stage() stage {
	return func(r *runes, a, b int, out []int32) []int32 {
		for p := a; p < b; {
			q := p + c.match(r, a, b, p)
			out = append(out, int32(q))
			p = q
		}
		return out
	}
}

func (c casedStyle) letter(r *runes, a, b, i int) bool {
	if i < a || i >= b {
		return false
	}
	f := r.cls[i]
	return isLetter(f) || (c.marks && isMark(f))
}

func (c casedStyle) upper(r *runes, a, b, i int) bool {
	return c.letter(r, a, b, i) && !(r.cp[i] >= 'a' && r.cp[i] <= 'z')
}

func (c casedStyle) lower(r *runes, a, b, i int) bool {
	return c.letter(r, a, b, i) && !(r.cp[i] >= 'A' && r.cp[i] <= 'Z')
}

// upperLower matches U*W+ at q (backtracking the U* from its longest).
func (c casedStyle) upperLower(r *runes, a, b, q int) int {
	u := q
	for c.upper(r, a, b, u) {
		u++
	}
	for j := u; j >= q; j-- {
		if c.lower(r, a, b, j) {
			e := j + 1
			for c.lower(r, a, b, e) {
				e++
			}
			return e
		}
	}
	return -1
}

// upperThenLower matches U+W* at q.
func (c casedStyle) upperThenLower(r *runes, a, b, q int) int {
	if !c.upper(r, a, b, q) {
		return -1
	}
	e := q + 1
	for c.upper(r, a, b, e) {
		e++
	}
	for c.lower(r, a, b, e) {
		e++
	}
	return e
}

func (c casedStyle) match(r *runes, a, b, p int) int {
	cp, f := r.cp[p], r.cls[p]
	prefix := cp != '\r' && cp != '\n' && !isLetter(f) && !isNumber(f)
	for _, word := range []func(r *runes, a, b, q int) int{c.upperLower, c.upperThenLower} {
		for _, withPrefix := range []bool{true, false} {
			if withPrefix && !prefix {
				continue
			}
			q := p
			if withPrefix {
				q++
			}
			if e := word(r, a, b, q); e >= 0 {
				if c.contractions {
					e += contraction(r, b, e, true)
				}
				return e - p
			}
		}
	}
	if isNumber(f) {
		q := p + 1
		for q < b && q-p < c.digits && isNumber(r.cls[q]) {
			q++
		}
		return q - p
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n/]*' and the whitespace alternatives are
	// those of llamaStyle, with '/' after a punctuation run.
	return llamaStyle{digits: c.digits, slash: true}.rest(r, a, b, p)
}

// deepseek3Main is the third expression of DeepSeek V3:
//
//	[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//	 ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// spark is Spark 2.5's variant: no [\r\n]* after punctuation, and a
// single [\r\n] instead of \s*[\r\n]+.
func deepseek3Main(spark bool) matcher {
	lm := func(r *runes, a, b, i int) bool {
		return i >= a && i < b && (isLetter(r.cls[i]) || isMark(r.cls[i]))
	}
	ps := func(r *runes, a, b, i int) bool {
		if i < a || i >= b {
			return false
		}
		c := r.cls[i] & catMask
		return c == catPunct || c == catSymbol
	}
	return func(r *runes, a, b, p int) int {
		c := r.cp[p]
		if c < 0x80 && ps(r, a, b, p) && p+1 < b && isASCIILetter(r.cp[p+1]) {
			q := p + 1
			for q < b && isASCIILetter(r.cp[q]) {
				q++
			}
			return q - p
		}
		if c != '\r' && c != '\n' && !isLetter(r.cls[p]) && !ps(r, a, b, p) && lm(r, a, b, p+1) {
			q := p + 1
			for lm(r, a, b, q) {
				q++
			}
			return q - p
		}
		if lm(r, a, b, p) {
			q := p + 1
			for lm(r, a, b, q) {
				q++
			}
			return q - p
		}
		q := p
		if c == ' ' && ps(r, a, b, p+1) {
			q++
		}
		if ps(r, a, b, q) {
			for ps(r, a, b, q) {
				q++
			}
			if !spark {
				for c := cpAt(r, a, b, q); c == '\r' || c == '\n'; c = cpAt(r, a, b, q) {
					q++
				}
			}
			return q - p
		}
		if spark && (c == '\r' || c == '\n') {
			return 1
		}
		return spaceRuns(r, a, b, p, !spark)
	}
}

func isASCIILetter(c rune) bool { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') }

// spaceRuns matches \s*[\r\n]+ (when newlines), \s+(?!\S) and \s+ at p,
// or nothing (0).
func spaceRuns(r *runes, a, b, p int, newlines bool) int {
	n, lastNL := 0, -1
	for spaceC(at(r, a, b, p+n)) {
		if c := r.cp[p+n]; c == '\r' || c == '\n' {
			lastNL = p + n
		}
		n++
	}
	switch {
	case newlines && lastNL >= 0:
		return lastNL + 1 - p
	case n > 1 && p+n < b:
		return n - 1
	}
	return n
}

// kimiStage is Kimi K2's splitter: Han runs, then letter words without Han
// characters (with an optional leading character and contraction), digits
// by three, punctuation runs and whitespace, as the reference's own code
// does it.
func kimiStage(r *runes, a, b int, out []int32) []int32 {
	han := func(i int) bool { return i >= a && i < b && isHan(r.cp[i]) }
	word := func(i int) bool { return letterC(at(r, a, b, i)) && !han(i) }
	for p := a; p < b; {
		q := p + kimiMatch(r, a, b, p, han, word)
		out = append(out, int32(q))
		p = q
	}
	return out
}

func kimiMatch(r *runes, a, b, p int, han, word func(int) bool) int {
	c, f := r.cp[p], r.cls[p]
	if han(p) {
		q := p + 1
		for han(q) {
			q++
		}
		return q - p
	}
	lead := c != '\r' && c != '\n' && !isLetter(f) && !isNumber(f)
	if word(p) || (lead && word(p+1)) {
		q := p
		if lead {
			q++
		}
		for word(q) {
			q++
		}
		return q + contraction(r, b, q, true) - p
	}
	if isNumber(f) {
		q := p + 1
		for q < b && q-p < 3 && isNumber(r.cls[q]) {
			q++
		}
		return q - p
	}
	return llamaStyle{digits: 3}.rest(r, a, b, p)
}

// isHan is the reference's test for Chinese characters in Kimi K2.
func isHan(c rune) bool {
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
		(c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
		(c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
		(c >= 0x2CEB0 && c <= 0x2EBEF) || (c >= 0xF900 && c <= 0xFAFF) ||
		(c >= 0x2F800 && c <= 0x2FA1F)
}

// exaoneMoeMatch is EXAONE MoE's expression:
//
//	(?:'s|…)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}|
//	 ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+
//
// Its words run on over single spaces between letters.
func exaoneMoeMatch(r *runes, a, b, p int) int {
	if n := contraction(r, b, p, true); n > 0 {
		return n
	}
	c, f := r.cp[p], r.cls[p]
	words := func(q int) int {
		if !letterC(at(r, a, b, q)) {
			return -1
		}
		q++
		for {
			g := at(r, a, b, q)
			switch {
			case letterC(g) || (g != none && isMark(g)):
				q++
			case g != none && r.cp[q] == ' ' && letterC(at(r, a, b, q+1)):
				q += 2
			default:
				return q
			}
		}
	}
	if c != '\r' && c != '\n' && !isLetter(f) && !isNumber(f) {
		if e := words(p + 1); e >= 0 {
			return e - p
		}
	}
	if e := words(p); e >= 0 {
		return e - p
	}
	if isNumber(f) {
		return 1
	}
	q := p
	f2 := f
	if c == ' ' {
		q++
		f2 = at(r, a, b, p+1)
	}
	if f2 != none && !isSpace(f2) && !isLetter(f2) && !isNumber(f2) {
		for g := at(r, a, b, q); g != none && !isSpace(g) && !isLetter(g) && !isNumber(g); g = at(r, a, b, q) {
			q++
		}
		if c := cpAt(r, a, b, q); c == '\r' || c == '\n' || c == '/' {
			q++
		}
		return q - p
	}
	if n := spaceRuns(r, a, b, p, true); n > 0 {
		return n
	}
	return 1
}

var (
	preGPT4o      = &splitter{stages: []stage{casedStyle{digits: 3, contractions: true}.stage()}}
	preGraniteML  = &splitter{stages: []stage{casedStyle{digits: 3, contractions: true, marks: true}.stage()}}
	preTekken     = &splitter{stages: []stage{casedStyle{digits: 1}.stage()}}
	preDeepseekV3 = &splitter{stages: []stage{
		regexStage(upTo3Numbers), regexStage(runOf(wideRanges(cjkKanaRanges))), regexStage(deepseek3Main(false))}}
	preSpark = &splitter{stages: []stage{
		regexStage(upTo3Numbers), regexStage(runOf(wideRanges(cjkKanaRanges))), regexStage(deepseek3Main(true)),
		regexStage(oneOf(clsIs(isNumber)))}}
	preKimi     = &splitter{stages: []stage{kimiStage}}
	preMiniCPM5 = &splitter{stages: []stage{regexStage(upTo3Numbers), llamaStyle{digits: 1 << 30}.stage()}}
	preLaguna   = &splitter{stages: []stage{preLines.stages[0], llamaStyle{digits: 1}.stage()}}
	preExaone   = &splitter{stages: []stage{regexStage(exaoneMoeMatch)}}
)

// [一-龥぀-ゟ゠-ヿ]
var cjkKanaRanges = []rune{0x3040, 0x30FF, 0x4E00, 0x9FA5}

// upTo3Numbers matches \p{N}{1,3}.
func upTo3Numbers(r *runes, a, b, p int) int {
	q := p
	for q < b && q-p < 3 && isNumber(r.cls[q]) {
		q++
	}
	return q - p
}

// setPreMore knows the pre-tokenizers of this file; false if pre is not
// one of them.
func (t *Tokenizer) setPreMore(pre string) bool {
	clean := false
	switch pre {
	case "gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2":
		t.split = preGPT4o
	case "granite-embed-multi-97m":
		t.split = preGraniteML
		t.ignoreMerges = true
	case "tekken":
		t.split = preTekken
		t.ignoreMerges, t.addBOS = true, true
	case "deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4":
		t.split = preDeepseekV3
	case "spark2_5":
		t.split = preSpark
	case "kimi-k2":
		t.split = preKimi
	case "minicpm5":
		t.split = preMiniCPM5
		t.ignoreMerges, clean = true, true
	case "laguna":
		t.split = preLaguna
	case "exaone-moe":
		t.split = preExaone
		clean = true
	default:
		return false
	}
	t.cleanSpaces = clean
	return true
}
