package tokenizer

import "fmt"

// A pre-tokenizer splits text into words before BPE. The reference applies
// a list of regular expressions in turn, each one splitting the pieces left
// by the one before; a piece is either a match or the text between two
// matches. Each expression is written here by hand (no backtracking), from
// the semantics of the reference's own splitters and of ECMAScript regular
// expressions over its collapsed category classes.

// runes is a text decoded into code points, with their classes.
type runes struct {
	cp  []rune
	cls []uint8
	off []int32 // byte offset of each code point in the text, plus the end
}

func (r *runes) decode(s string) {
	r.cp, r.cls, r.off = r.cp[:0], r.cls[:0], r.off[:0]
	for i := 0; i < len(s); {
		c, n := decodeRune(s, i)
		r.cp = append(r.cp, c)
		r.cls = append(r.cls, cpClass(c))
		r.off = append(r.off, int32(i))
		i += n
	}
	r.off = append(r.off, int32(len(s)))
}

// stage splits cp[a:b] and appends the end of each piece to out.
type stage func(r *runes, a, b int, out []int32) []int32

// matcher reports the length of a match starting at p in [a, b), or 0.
type matcher func(r *runes, a, b, p int) int

// regexStage emulates a leftmost-first regex iterator: matches are pieces,
// and so is each run of text between matches.
func regexStage(m matcher) stage {
	return func(r *runes, a, b int, out []int32) []int32 {
		gap := a
		for p := a; p < b; {
			n := m(r, a, b, p)
			if n == 0 {
				p++
				continue
			}
			if p > gap {
				out = append(out, int32(p))
			}
			p += n
			out = append(out, int32(p))
			gap = p
		}
		if gap < b {
			out = append(out, int32(b))
		}
		return out
	}
}

// splitter is a list of stages.
type splitter struct {
	stages []stage
}

// split returns the piece ends over r (reusing buf and tmp).
func (s *splitter) split(r *runes, buf, tmp []int32) ([]int32, []int32) {
	cur := append(buf[:0], int32(len(r.cp)))
	for _, st := range s.stages {
		next := tmp[:0]
		a := 0
		for _, e := range cur {
			next = st(r, a, int(e), next)
			a = int(e)
		}
		cur, tmp = next, cur
	}
	return cur, tmp
}

const none uint8 = 0xFF // class outside the piece

func at(r *runes, a, b, i int) uint8 {
	if i < a || i >= b {
		return none
	}
	return r.cls[i]
}

func cpAt(r *runes, a, b, i int) rune {
	if i < a || i >= b {
		return -1
	}
	return r.cp[i]
}

func letterC(c uint8) bool { return c != none && isLetter(c) }
func numberC(c uint8) bool { return c != none && isNumber(c) }
func spaceC(c uint8) bool  { return c != none && isSpace(c) }

// contraction returns the length of 's 't 're 've 'm 'll 'd at p (0 if
// none); fold makes it case-insensitive.
func contraction(r *runes, b, p int, fold bool) int {
	if p+1 >= b || r.cp[p] != '\'' {
		return 0
	}
	low := func(c rune) rune {
		if fold {
			return toLower(c)
		}
		return c
	}
	c1 := low(r.cp[p+1])
	switch c1 {
	case 's', 't', 'm', 'd':
		return 2
	}
	if p+2 < b {
		c2 := low(r.cp[p+2])
		if (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') {
			return 3
		}
	}
	return 0
}

// gpt2Stage is GPT-2's
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func gpt2Stage(r *runes, a, b int, out []int32) []int32 {
	for p := a; p < b; {
		q := p + gpt2Match(r, a, b, p)
		out = append(out, int32(q))
		p = q
	}
	return out
}

func gpt2Match(r *runes, a, b, p int) int {
	if n := contraction(r, b, p, false); n > 0 {
		return n
	}
	c := r.cp[p]
	f2 := r.cls[p]
	q := p
	if c == ' ' {
		f2 = at(r, a, b, p+1)
		q++
	}
	switch {
	case letterC(f2):
		for letterC(at(r, a, b, q)) {
			q++
		}
		return q - p
	case numberC(f2):
		for numberC(at(r, a, b, q)) {
			q++
		}
		return q - p
	case f2 != none && !isSpace(f2) && !isLetter(f2) && !isNumber(f2):
		for f := at(r, a, b, q); f != none && !isSpace(f) && !isLetter(f) && !isNumber(f); f = at(r, a, b, q) {
			q++
		}
		return q - p
	}
	n := 0
	for spaceC(at(r, a, b, p+n)) {
		n++
	}
	if n > 1 && p+n < b {
		return n - 1
	}
	if n > 0 {
		return n
	}
	return 1
}

// llamaStyle covers Llama 3's expression and its relatives:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// digits is the {1,3} bound (1 for Qwen 2); marks adds \p{M} to the letter
// runs and removes it from the punctuation runs (Qwen 3.5); noContractions
// drops the first alternative; noTrailingNewlines drops the [\r\n]* after a
// punctuation run.
type llamaStyle struct {
	digits             int
	marks              bool
	noContractions     bool
	noTrailingNewlines bool
	slash              bool // [\r\n/]* after a punctuation run
}

func (l llamaStyle) stage() stage {
	return func(r *runes, a, b int, out []int32) []int32 {
		for p := a; p < b; {
			q := p + l.match(r, a, b, p)
			out = append(out, int32(q))
			p = q
		}
		return out
	}
}

func (l llamaStyle) word(c uint8) bool {
	return c != none && (isLetter(c) || (l.marks && isMark(c)))
}

func (l llamaStyle) punct(c uint8) bool {
	return c != none && !isSpace(c) && !isLetter(c) && !isNumber(c) && !(l.marks && isMark(c))
}

func (l llamaStyle) match(r *runes, a, b, p int) int {
	if !l.noContractions {
		if n := contraction(r, b, p, true); n > 0 {
			return n
		}
	}
	c, f := r.cp[p], r.cls[p]
	if c != '\r' && c != '\n' && !isNumber(f) && (l.word(f) || l.word(at(r, a, b, p+1))) {
		q := p + 1
		for l.word(at(r, a, b, q)) {
			q++
		}
		return q - p
	}
	if isNumber(f) {
		q := p + 1
		for q < b && q-p < l.digits && isNumber(r.cls[q]) {
			q++
		}
		return q - p
	}
	return l.rest(r, a, b, p)
}

// rest matches the alternatives after the digits:
// ' ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+'.
func (l llamaStyle) rest(r *runes, a, b, p int) int {
	c, f := r.cp[p], r.cls[p]
	q := p
	f2 := f
	if c == ' ' {
		q++
		f2 = at(r, a, b, p+1)
	}
	if l.punct(f2) || (c == ' ' && f2 == none) {
		for l.punct(at(r, a, b, q)) {
			q++
		}
		if !l.noTrailingNewlines {
			for c := cpAt(r, a, b, q); c == '\r' || c == '\n' || (l.slash && c == '/'); c = cpAt(r, a, b, q) {
				q++
			}
		}
		return q - p
	}
	if n := spaceRuns(r, a, b, p, true); n > 0 {
		return n
	}
	return 1
}

// wch is the code point as the reference's wide-character regexes see it:
// non-ASCII whitespace is replaced by a vertical tab.
func wch(r *runes, i int) rune {
	if c := r.cp[i]; c < 0x80 || !isSpace(r.cls[i]) {
		return c
	}
	return 0x0B
}

// runOf matches one or more code points satisfying in.
func runOf(in func(r *runes, i int) bool) matcher {
	return func(r *runes, a, b, p int) int {
		q := p
		for q < b && in(r, q) {
			q++
		}
		return q - p
	}
}

// oneOf matches a single code point satisfying in.
func oneOf(in func(r *runes, i int) bool) matcher {
	return func(r *runes, a, b, p int) int {
		if in(r, p) {
			return 1
		}
		return 0
	}
}

// spaceThen matches \s?X+ (prefix ' ' only, with onlyBlank).
func spaceThen(in func(r *runes, i int) bool, onlyBlank bool) matcher {
	run := runOf(in)
	return func(r *runes, a, b, p int) int {
		lead := isSpace(r.cls[p])
		if onlyBlank {
			lead = r.cp[p] == ' '
		}
		if lead && p+1 < b && in(r, p+1) {
			return 1 + run(r, a, b, p+1)
		}
		return run(r, a, b, p)
	}
}

// trailingSpaceStage is \s+$: the whitespace that ends a piece is a piece.
func trailingSpaceStage(r *runes, a, b int, out []int32) []int32 {
	t := b
	for t > a && isSpace(r.cls[t-1]) {
		t--
	}
	if t > a && t < b {
		out = append(out, int32(t))
	}
	return append(out, int32(b))
}

// threeDigits matches [0-9][0-9][0-9].
func threeDigits(r *runes, a, b, p int) int {
	if p+3 <= b && isDigit(r.cp[p]) && isDigit(r.cp[p+1]) && isDigit(r.cp[p+2]) {
		return 3
	}
	return 0
}

func isDigit(c rune) bool { return c >= '0' && c <= '9' }

func clsIs(pred func(uint8) bool) func(r *runes, i int) bool {
	return func(r *runes, i int) bool { return pred(r.cls[i]) }
}

func isNewline(r *runes, i int) bool { return r.cp[i] == '\r' || r.cp[i] == '\n' }

// asciiOrPunct is [\p{P}$+<=>^~|`] (and without the backtick).
func asciiOrPunct(backtick bool) func(r *runes, i int) bool {
	return func(r *runes, i int) bool {
		c := r.cp[i]
		switch c {
		case '$', '+', '<', '=', '>', '^', '~', '|':
			return true
		case '`':
			return backtick
		}
		return isPunct(r.cls[i]) && !isSpace(r.cls[i])
	}
}

// inRanges reports whether c lies in one of the sorted [lo, hi] pairs.
func inRanges(c rune, rs []rune) bool {
	lo, hi := 0, len(rs)/2
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case c < rs[2*m]:
			hi = m
		case c > rs[2*m+1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

func wideRanges(rs []rune) func(r *runes, i int) bool {
	return func(r *runes, i int) bool { return inRanges(wch(r, i), rs) }
}

// [一-龥ࠀ-一가-퟿]
var cjkRanges = []rune{0x0800, 0x9FA5, 0xAC00, 0xD7FF}

// DeepSeek LLM's letter class (from its tokenizer.json). Six of its code
// points change under Unicode normalization (U+1F7D, U+1FBE, U+1FD3, U+1FDB,
// U+2126, U+212A), so they are escaped: normalized, three ranges would run
// backwards (which the reference's std::wregex rejects) and "K-ℭ" would
// become U+004B-U+212D, taking punctuation such as '|' and '_' for letters.
var deepseekLetters = parseClass("A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃")

// DeepSeek LLM's punctuation class.
var deepseekPunct = parseClass("!-/:-~！-／：-～‘-‟　-。")

// parseClass turns the body of a bracket expression made of literal code
// points and ranges into sorted [lo, hi] pairs.
func parseClass(s string) []rune {
	cs := []rune(s)
	var pairs [][2]rune
	for i := 0; i < len(cs); i++ {
		if i+2 < len(cs) && cs[i+1] == '-' {
			pairs = append(pairs, [2]rune{cs[i], cs[i+2]})
			i += 2
		} else {
			pairs = append(pairs, [2]rune{cs[i], cs[i]})
		}
	}
	for i := 1; i < len(pairs); i++ {
		for j := i; j > 0 && pairs[j][0] < pairs[j-1][0]; j-- {
			pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
		}
	}
	out := make([]rune, 0, 2*len(pairs))
	for _, p := range pairs {
		if n := len(out); n > 0 && p[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], p[1])
			continue
		}
		out = append(out, p[0], p[1])
	}
	return out
}

// bloomWord is [^(\s|.,!?…。，、।۔،)].
func bloomWord(r *runes, i int) bool {
	switch wch(r, i) {
	case '(', '|', '.', ',', '!', '?', '…', '。', '，', '、', '।', '۔', '،', ')':
		return false
	}
	return !isSpace(r.cls[i])
}

// Pre-tokenizer definitions, by the reference's groups.
var (
	preGPT2  = &splitter{stages: []stage{gpt2Stage}}
	preLlama = &splitter{stages: []stage{llamaStyle{digits: 3}.stage()}}
	preQwen2 = &splitter{stages: []stage{llamaStyle{digits: 1}.stage()}}
	preQwen3 = &splitter{stages: []stage{llamaStyle{digits: 1, marks: true}.stage()}}
	preTurk  = &splitter{stages: []stage{llamaStyle{digits: 1, noContractions: true}.stage()}}
	preSeed  = &splitter{stages: []stage{llamaStyle{digits: 1, noTrailingNewlines: true}.stage()}}

	preStarcoder = &splitter{stages: []stage{regexStage(oneOf(clsIs(isNumber))), gpt2Stage}}
	preFalcon    = &splitter{stages: []stage{
		regexStage(runOf(asciiOrPunct(true))), gpt2Stage, regexStage(threeDigits)}}
	preDefault = &splitter{stages: []stage{
		regexStage(runOf(asciiOrPunct(false))), gpt2Stage, regexStage(runOf(clsIs(isNumber))), regexStage(threeDigits)}}
	preDeepseekCoder = &splitter{stages: []stage{
		regexStage(oneOf(isNewline)),
		regexStage(spaceThen(clsIs(isLetter), false)),
		regexStage(spaceThen(clsIs(isPunct), false)),
		regexStage(runOf(wideRanges(cjkRanges))),
		regexStage(oneOf(clsIs(isNumber))),
	}}
	preDeepseekLLM = &splitter{stages: []stage{
		regexStage(oneOf(isNewline)),
		regexStage(spaceThen(wideRanges(deepseekLetters), false)),
		regexStage(spaceThen(wideRanges(deepseekPunct), false)),
		trailingSpaceStage,
		regexStage(runOf(wideRanges(cjkRanges))),
		regexStage(runOf(clsIs(isNumber))),
	}}
	preBloom  = &splitter{stages: []stage{regexStage(spaceThen(bloomWord, true))}}
	preViking = &splitter{stages: []stage{regexStage(spaceThen(bloomWord, true)), regexStage(oneOf(clsIs(isNumber)))}}
	// [^\n]+|[\n]+: the newline runs are the gaps.
	preLines = &splitter{stages: []stage{regexStage(runOf(func(r *runes, i int) bool { return r.cp[i] != '\n' }))}}
)

// setPre chooses the pre-tokenizer and its flags for a BPE vocabulary.
func (t *Tokenizer) setPre(pre string) error {
	t.pre = pre
	noClean := func() { t.cleanSpaces = false }
	switch pre {
	case "", "default":
		t.split = preDefault
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
		t.split = preLlama
		t.ignoreMerges, t.addBOS = true, true
	case "dbrx", "smaug-bpe":
		t.split = preLlama
	case "glm4", "chatglm-bpe":
		t.split = preLlama
		t.bos = -1
	case "deepseek-llm":
		t.split = preDeepseekLLM
		noClean()
	case "deepseek-coder":
		t.split = preDeepseekCoder
		noClean()
	case "falcon":
		t.split = preFalcon
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
		"modern-bert", "exaone4", "mpt", "olmo", "jais":
		t.split = preGPT2
	case "trillion", "granite-docling":
		t.split = preGPT2
		noClean()
	case "jina-v1-en", "jina-v2-code", "roberta-bpe":
		t.split = preGPT2
		t.addSep = true
	case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
		t.split = preStarcoder
	case "command-r", "smollm":
		t.split = preStarcoder
		noClean()
	case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2",
		"bailingmoe", "bailingmoe2", "llada-moe":
		t.split = preQwen2
		noClean()
	case "megrez", "stablelm2":
		t.split = preQwen2
	case "qwen35":
		t.split = preQwen3
		noClean()
	case "ufakzeka":
		t.split = preTurk
		noClean()
	case "seed-coder":
		t.split = preSeed
		noClean()
	case "poro-chat":
		t.split = preBloom
		noClean()
	case "bloom", "gpt3-finnish":
		t.split = preBloom
	case "viking":
		t.split = preViking
		noClean()
	case "gemma4", "granite-embed-multi-311m":
		t.split = preLines
		t.escapeSpaces, t.byteEncode, t.gemma4 = true, false, true
	case "sarvam-moe":
		t.split = preLines
		t.escapeSpaces, t.byteEncode = true, false
		noClean()
	default:
		if !t.setPreMore(pre) {
			return fmt.Errorf("tokenizer: unknown or unsupported pre-tokenizer %q", pre)
		}
	}
	return nil
}
