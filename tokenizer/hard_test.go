package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// hardStrings go beyond the reference vectors. There is no reference
// output for them here; the tests below check what must hold whatever
// the ids are, and cross-check vocabularies that must agree.
var hardStrings = []string{
	"",
	" ",
	"\t\t\n \r\n\v\f x",
	"Hello\u00A0world\u2003and\u3000more\u0085end",
	"👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 🇯🇵 Japan",
	"русский English 中文 日本語 한국어 العربية עברית हिन्दी ไทย",
	"func main() {\n\tfmt.Println(\"hi\")\t// comment\n\n\treturn\n}\n",
	"1234567890123456789012345678901234567890 3.14159 1,000,000 0x1F",
	"                                    many spaces                  ",
	"\n\n\n\n\n\n\n\n\n\nnewlines\r\n\r\n\r\n",
	"don't I'm you're we've they'll she'd IT'S WE'RE",
	"<s>not special</s> <|endoftext|> <|im_start|>user<|im_end|> <|begin_of_text|> [CLS] <unk> <pad>",
	"<<<>>> ``` ''' \"\"\" ... !!! ??? --- ___ *** ///",
	"café naïve résumé Ærøskøbing Straße İstanbul ǅ ﬁ",
	"e\u0301 a\u0300\u0301 \u0915\u093f\u0928\u094d\u0928 \u0e01\u0e34\u0e19",
	"tab\there\tand\tthere",
	"a\u200Bb\u200Cc\u200Dd\uFEFFe",
	"\x00\x01\x02 control \x7f\x1b[31m",
	"𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 ℌ𝔢𝔩𝔩𝔬",
	"I'VE 'S 'Re 'll '' 'x",
	strings.Repeat("a", 3000),
	strings.Repeat("ab ", 500),
	strings.Repeat("9", 100),
	strings.Repeat("🦙", 50),
}

// invalidStrings are not valid UTF-8.
var invalidStrings = []string{
	"\xff",
	"abc\x80def",
	"\xe2\x82",
	"\xe2\x82 x",
	"\xc0\x80 overlong",
	"\xed\xa0\x80 surrogate",
	"\xf4\x90\x80\x80 too big",
	"\xf0\x9f\xa6",
	"ok \xf0\x9f\xa6\x99 \xf0\x9f",
}

var allVocabs = []string{"llama-spm", "phi-3", "baichuan", "llama-bpe", "qwen2", "qwen3", "qwen35", "gpt-2",
	"gpt-neox", "mpt", "falcon", "starcoder", "refact", "deepseek-coder", "deepseek-llm", "gemma-4", "bert-bge"}

// TestHardNoPanic encodes and decodes every hard string with every
// vocabulary and option, and checks the ids and the pieces.
func TestHardNoPanic(t *testing.T) {
	for _, name := range allVocabs {
		tk := loadVocab(t, name)
		for _, s := range append(slices.Clone(hardStrings), invalidStrings...) {
			for _, add := range []bool{false, true} {
				for _, parse := range []bool{false, true} {
					ids := tk.Encode(s, add, parse)
					for _, id := range ids {
						if id < 0 || int(id) >= tk.NumTokens() {
							t.Fatalf("%s: Encode(%q) gave id %d", name, s, id)
						}
					}
					if add && tk.AddBOS() && (len(ids) == 0 || ids[0] != tk.BOS()) {
						t.Errorf("%s: Encode(%q, add) does not start with BOS: %v", name, s, ids)
					}
					if !add && utf8.ValidString(s) && len(ids) == 0 && strings.TrimSpace(s) != "" {
						t.Errorf("%s: Encode(%q) is empty", name, s)
					}
					tk.Decode(ids, true)
					tk.Detokenize(ids, false)
				}
			}
		}
	}
}

// TestHardRoundTrip: byte-level BPE and byte-fallback vocabularies give
// every byte back (invalid UTF-8 as the reference reads it: U+FFFD).
func TestHardRoundTrip(t *testing.T) {
	for _, name := range allVocabs {
		tk := loadVocab(t, name)
		if tk.fam == famWPM {
			continue
		}
		for _, s := range append(slices.Clone(hardStrings), invalidStrings...) {
			if s == "" {
				continue
			}
			ids := tk.Encode(s, false, false)
			got := tk.Decode(ids, false)
			want := s
			if tk.fam == famBPE {
				want = canonical(s)
			}
			if tk.fam == famSPM {
				if !utf8.ValidString(s) {
					continue // a broken sequence swallows the bytes of the next ▁
				}
				want = " " + s
			}
			if hasUserDefinedText(tk, s) || missingByte(tk, s) {
				continue // user-defined tokens are shown as stored; a byte without a token is dropped
			}
			if got != want {
				t.Errorf("%s: Decode(Encode(%q)) = %q", name, s, got)
			}
		}
	}
}

func missingByte(tk *Tokenizer, s string) bool {
	for i := 0; i < len(s); i++ {
		if tk.byteTok[s[i]] < 0 {
			return true
		}
	}
	return false
}

func hasUserDefinedText(tk *Tokenizer, s string) bool {
	for _, id := range tk.specials {
		if tk.attrs[id]&attrUserDefined != 0 && strings.Contains(s, tk.tokens[id]) {
			return true
		}
	}
	return false
}

// TestHardQwenFamilies: qwen2 and qwen3 share vocabulary and merges and
// differ only in added tokens; qwen35 differs from qwen3 only on combining
// marks. Without special-token text they must agree.
func TestHardQwenFamilies(t *testing.T) {
	q2, q3, q35 := loadVocab(t, "qwen2"), loadVocab(t, "qwen3"), loadVocab(t, "qwen35")
	for _, s := range append(slices.Clone(hardStrings), benchCorpus(t)[:20000]) {
		a, b := q2.Encode(s, false, false), q3.Encode(s, false, false)
		if !strings.Contains(s, "<") && !slices.Equal(a, b) {
			t.Errorf("qwen2 and qwen3 differ on %q:\n%v\n%v", s, a, b)
		}
		if hasMark(s) {
			continue
		}
		if c := q35.Encode(s, false, false); !slices.Equal(b, c) {
			t.Errorf("qwen3 and qwen35 differ on %q:\n%v\n%v", s, b, c)
		}
	}
	// With marks, qwen35 keeps a mark with its letter.
	for s, want := range map[string][2]int{"e\u0301": {2, 1}, "ke\u0301k": {2, 1}, "\u0915\u093f": {2, 1}, " \u0301": {1, 1}, "!\u0301": {1, 1}} {
		if n2, n35 := len(words(q2, s)), len(words(q35, s)); n2 != want[0] || n35 != want[1] {
			t.Errorf("%q: qwen2 %d words, qwen35 %d, want %v", s, n2, n35, want)
		}
	}
}

// words returns the pre-tokenizer's split of s.
func words(tk *Tokenizer, s string) []string {
	var r runes
	r.decode(s)
	ends, _ := tk.split.split(&r, nil, nil)
	var out []string
	a := 0
	for _, e := range ends {
		out = append(out, s[r.off[a]:r.off[e]])
		a = int(e)
	}
	return out
}

func hasMark(s string) bool {
	for _, r := range s {
		if isMark(cpClass(r)) {
			return true
		}
	}
	return false
}

// TestHardWordSplit: tokenizing word by word (SentencePiece, Gemma 4) and
// the word cache change nothing.
func TestHardWordSplit(t *testing.T) {
	texts := append(slices.Clone(hardStrings), invalidStrings...)
	texts = append(texts, benchCorpus(t)[:50000], "a>▁</b", "x> </y", "> </", ">\u2581</")
	for _, name := range []string{"llama-spm", "phi-3", "baichuan", "gemma-4", "llama-bpe", "gpt-2"} {
		tk := loadVocab(t, name)
		plain := *tk
		plain.wordSplit, plain.noCache = false, true
		for _, s := range texts {
			for _, parse := range []bool{false, true} {
				a := tk.Encode(s, true, parse)
				if b := plain.Encode(s, true, parse); !slices.Equal(a, b) {
					t.Errorf("%s: %q: word by word %v, whole %v", name, s, a, b)
				}
			}
		}
	}
}

// TestHardDigits: Llama 3 groups digits by three, Qwen 2 keeps them single.
func TestHardDigits(t *testing.T) {
	digits := strings.Repeat("1234567890", 10)
	for name, width := range map[string]int{"llama-bpe": 3, "qwen2": 1, "qwen35": 1} {
		tk := loadVocab(t, name)
		ids := tk.Encode(digits, false, false)
		var back string
		for _, id := range ids {
			p := tk.Piece(id, false)
			if len(p) > width {
				t.Errorf("%s: digit token %q is wider than %d", name, p, width)
			}
			back += p
		}
		if back != digits || len(ids) != (len(digits)+width-1)/width {
			t.Errorf("%s: %d tokens for %d digits", name, len(ids), len(digits))
		}
	}
}

// TestSpecialParsing checks special-token text with and without
// parse_special, BOS, lstrip/rstrip and user-defined tokens.
func TestSpecialParsing(t *testing.T) {
	l3 := loadVocab(t, "llama-bpe")
	chat := "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
	ids := l3.Encode(chat, true, true)
	want := []int32{128000, 128006}
	want = append(want, l3.Encode("user", false, false)...)
	want = append(want, 128007)
	want = append(want, l3.Encode("\n\nHi", false, false)...)
	want = append(want, 128009)
	if !slices.Equal(ids, want) {
		t.Errorf("llama-bpe chat: %v, want %v", ids, want)
	}
	if got := l3.Decode(ids, true); got != "<|begin_of_text|>"+chat {
		t.Errorf("llama-bpe Decode(special) = %q", got)
	}
	if got := l3.Decode(ids, false); got != "user\n\nHi" {
		t.Errorf("llama-bpe Decode = %q", got)
	}
	if plain := l3.Encode(chat, false, false); slices.Contains(plain, 128006) || slices.Contains(plain, 128009) {
		t.Errorf("llama-bpe parsed special text without parse_special: %v", plain)
	}
	for _, id := range []int32{128001, 128009} {
		if !l3.IsEOG(id) {
			t.Errorf("llama-bpe: %d is not EOG", id)
		}
	}
	if !l3.AddBOS() || l3.BOS() != 128000 {
		t.Errorf("llama-bpe: AddBOS %v BOS %d", l3.AddBOS(), l3.BOS())
	}

	q3 := loadVocab(t, "qwen3")
	if q3.AddBOS() {
		t.Error("qwen3 adds BOS")
	}
	for _, s := range []string{"<|im_end|>", "<|endoftext|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"} {
		if !q3.IsEOG(q3.ID(s)) {
			t.Errorf("qwen3: %s is not EOG", s)
		}
	}
	if q3.IsEOG(q3.ID("<|im_start|>")) {
		t.Error("qwen3: <|im_start|> is EOG")
	}
	// <think> is user-defined: split out even without parse_special.
	ids = q3.Encode("a<think>b", false, false)
	if !slices.Contains(ids, q3.ID("<think>")) {
		t.Errorf("qwen3: <think> not split out: %v", ids)
	}

	// Phi-3: control tokens eat the whitespace after them; </s> is
	// user-defined; the text after a special token gets a prefix space.
	p3 := loadVocab(t, "phi-3")
	ids = p3.Encode("<|user|>\nHello<|end|>\n<|assistant|>", true, true)
	want = []int32{1, 32010}
	want = append(want, p3.Encode("Hello", false, false)...)
	want = append(want, 32007, 32001)
	if !slices.Equal(ids, want) {
		t.Errorf("phi-3 chat: %v, want %v", ids, want)
	}
	// </s> is user-defined, but as an end-of-generation token it is also
	// made a control token, so it needs parse_special; then it eats the
	// spaces after it.
	if ids = p3.Encode("a</s>  b", false, false); slices.Contains(ids, 2) {
		t.Errorf("phi-3: </s> split out without parse_special: %v", ids)
	}
	ids = p3.Encode("a</s>  b", false, true)
	want = append(append(p3.Encode("a", false, false), 2), p3.Encode("b", false, false)...)
	if !slices.Equal(ids, want) {
		t.Errorf("phi-3: a</s>  b: %v, want %v", ids, want)
	}
	if !p3.IsEOG(32007) || !p3.IsEOG(32000) {
		t.Error("phi-3: <|end|> or <|endoftext|> is not EOG")
	}

	// SentencePiece: BOS, and the space prefix before the first word only.
	sp := loadVocab(t, "llama-spm")
	a := sp.Encode("Hello world", true, false)
	if a[0] != 1 || !slices.Equal(a[1:], sp.Encode("Hello world", false, false)) {
		t.Errorf("llama-spm BOS: %v", a)
	}
	if got := sp.Detokenize(a[1:], false); got != "Hello world" {
		t.Errorf("llama-spm Detokenize = %q", got)
	}
	// As in the reference, BOS (rendered or not) takes the place of the
	// first word in dropping the prefix space.
	if got := sp.Detokenize(a, false); got != " Hello world" {
		t.Errorf("llama-spm Detokenize with BOS = %q", got)
	}
	if got := sp.Encode("<s>x", false, true); got[0] != 1 {
		t.Errorf("llama-spm <s> with parse_special: %v", got)
	}
	if got := sp.Encode("<s>x", false, false); got[0] == 1 {
		t.Errorf("llama-spm <s> without parse_special: %v", got)
	}

	// Gemma 4: BOS is forced; <end_of_turn> and </s> end generation.
	g := loadVocab(t, "gemma-4")
	if !g.AddBOS() || g.BOS() != 2 {
		t.Errorf("gemma-4: AddBOS %v BOS %d", g.AddBOS(), g.BOS())
	}
	for _, s := range []string{"<eos>", "<end_of_turn>", "</s>"} {
		if id := g.ID(s); id < 0 || !g.IsEOG(id) {
			t.Errorf("gemma-4: %s (%d) is not EOG", s, id)
		}
	}
	// <start_of_turn> is a normal token here: only <end_of_turn> is split out.
	ids = g.Encode("<start_of_turn>user\nHi<end_of_turn>", false, true)
	if ids[len(ids)-1] != g.ID("<end_of_turn>") || ids[0] == g.ID("<start_of_turn>") {
		t.Errorf("gemma-4: %v", ids)
	}

	// WordPiece: [CLS] ... [SEP].
	b := loadVocab(t, "bert-bge")
	ids = b.Encode("Hello world", true, false)
	if ids[0] != 101 || ids[len(ids)-1] != 102 {
		t.Errorf("bert-bge: %v", ids)
	}
}

// TestStreamDecoder: the stream never splits a character and adds up to
// Decode.
func TestStreamDecoder(t *testing.T) {
	for _, name := range []string{"llama-spm", "llama-bpe", "gemma-4", "qwen2"} {
		tk := loadVocab(t, name)
		for _, s := range append(slices.Clone(hardStrings), invalidStrings...) {
			ids := tk.Encode(s, true, true)
			d := tk.NewStreamDecoder(true)
			var all string
			for _, id := range ids {
				part := d.Add(id)
				if utf8.ValidString(tk.Decode(ids, true)) && !utf8.ValidString(part) {
					t.Errorf("%s: stream part %q of %q is not valid UTF-8", name, part, s)
				}
				all += part
			}
			all += d.Flush()
			if want := tk.Decode(ids, true); all != want {
				t.Errorf("%s: stream %q, Decode %q", name, all, want)
			}
		}
	}
}

// TestSpecialIDs pins BOS, EOS, add_bos and the end-of-generation set of
// every vocabulary, as the reference's load() derives them (the file's
// keys, the family defaults, and its rules on token texts: "</s>" ends
// generation even in qwen2, where it is an ordinary BPE token, and BERT's
// "[PAD]" counts as a fill-in-the-middle pad).
func TestSpecialIDs(t *testing.T) {
	cases := []struct {
		name     string
		bos, eos int32
		addBOS   bool
		eog      []int32
	}{
		{"llama-spm", 1, 2, true, []int32{2}},
		{"phi-3", 1, 32000, true, []int32{2, 32000, 32007}},
		{"baichuan", 1, 2, true, []int32{2}},
		{"llama-bpe", 128000, 128001, true, []int32{128001, 128009}},
		{"qwen2", 151643, 151643, false, []int32{128247, 151643, 151645}},
		{"qwen3", 151643, 151645, false, []int32{128247, 151643, 151645, 151662, 151663, 151664}},
		{"gpt-2", 50256, 50256, false, []int32{50256}},
		{"gpt-neox", 0, 0, false, []int32{0}},
		{"falcon", 11, 11, false, []int32{11}},
		{"starcoder", 0, 0, false, []int32{0, 4}},
		{"refact", 0, 0, false, []int32{0, 4, 18}},
		{"deepseek-coder", 32013, 32014, true, []int32{32014}},
		{"deepseek-llm", 100000, 100001, true, []int32{100001}},
		{"gemma-4", 2, 106, true, []int32{1, 106, 212}},
		{"bert-bge", 101, -1, true, []int32{0}},
	}
	for _, c := range cases {
		tk := loadVocab(t, c.name)
		if tk.BOS() != c.bos || tk.EOS() != c.eos || tk.AddBOS() != c.addBOS || !slices.Equal(tk.EOG(), c.eog) {
			t.Errorf("%s: BOS %d EOS %d AddBOS %v EOG %v, want %d %d %v %v", c.name,
				tk.BOS(), tk.EOS(), tk.AddBOS(), tk.EOG(), c.bos, c.eos, c.addBOS, c.eog)
		}
	}
	if l3 := loadVocab(t, "llama-bpe"); l3.EOT() != 128009 {
		t.Errorf("llama-bpe EOT %d", l3.EOT())
	}
}
