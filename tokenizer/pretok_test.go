package tokenizer

import (
	"slices"
	"testing"
)

// TestPreTokenizers checks splits derived by hand from the reference's
// expressions (ECMAScript semantics over its collapsed classes), for the
// pre-tokenizers the vocab folder has no vectors for, and a few that it has.
func TestPreTokenizers(t *testing.T) {
	cases := []struct {
		pre  string
		text string
		want []string
	}{
		{"gpt-4o", "HelloWorld", []string{"Hello", "World"}},
		{"gpt-4o", "HELLOworld", []string{"HELLOworld"}},
		{"gpt-4o", "HELLO world", []string{"HELLO", " world"}},
		{"gpt-4o", "I'm don't WE'RE", []string{"I'm", " don't", " WE'RE"}},
		{"gpt-4o", "12345", []string{"123", "45"}},
		{"gpt-4o", "path/to/file\n", []string{"path", "/to", "/file", "\n"}},
		{"gpt-4o", "x+=1;//c\n", []string{"x", "+=", "1", ";//", "c", "\n"}},
		{"gpt-4o", "ÀB", []string{"À", "B"}},
		{"gpt-4o", "a!\n\n/b", []string{"a", "!\n\n/", "b"}},
		{"gpt-4o", "  x", []string{" ", " x"}},
		{"gpt-4o", "x  ", []string{"x", "  "}},
		{"tekken", "I'm 1234", []string{"I", "'m", " ", "1", "2", "3", "4"}},
		{"deepseek-v3", "Hello, world! 123 中文abc", []string{"Hello", ",", " world", "!", " ", "123", " ", "中文", "abc"}},
		{"deepseek-v3", ".Net 12345", []string{".Net", " ", "123", "45"}},
		{"deepseek-v3", "a\n\n  b", []string{"a", "\n\n", " ", " b"}},
		{"spark2_5", "x!\n12", []string{"x", "!", "\n", "1", "2"}},
		{"kimi-k2", "Hello世界 don't 12345", []string{"Hello", "世界", " don't", " ", "123", "45"}},
		{"exaone-moe", "hello world 123", []string{"hello world", " ", "1", "2", "3"}},
		{"laguna", "a  \nb", []string{"a", "  ", "\n", "b"}},
		{"minicpm5", "x12345", []string{"x", "123", "45"}},
		{"qwen2", "a  \nb", []string{"a", "  \n", "b"}},
		{"llama-bpe", "Hello, y'all!  123456\n\n\tok", []string{"Hello", ",", " y", "'all", "!", " ", " ", "123", "456", "\n\n", "\tok"}},
		{"gpt-2", "Hello  world's 1234", []string{"Hello", " ", " world", "'s", " 1234"}},
		{"falcon", "x = 12345; y", []string{"x", " ", "=", " ", "123", "45", ";", " y"}},
		{"deepseek-llm", "Hello 世界 123\n", []string{"Hello", " ", "世界", " ", "123", "\n"}},
		{"bloom", "Hi, there!", []string{"Hi", ",", " there", "!"}},
	}
	for _, c := range cases {
		tk := &Tokenizer{}
		if err := tk.setPre(c.pre); err != nil {
			t.Fatal(err)
		}
		if got := words(tk, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: %q, want %q", c.pre, c.text, got, c.want)
		}
	}
	if err := (&Tokenizer{}).setPre("no-such-pre"); err == nil {
		t.Error("unknown pre-tokenizer accepted")
	}
}

var allPres = []string{"default", "llama-bpe", "dbrx", "deepseek-llm", "deepseek-coder", "falcon", "gpt-2",
	"starcoder", "qwen2", "qwen35", "ufakzeka", "seed-coder", "bloom", "viking", "gemma4", "gpt-4o",
	"granite-embed-multi-97m", "tekken", "deepseek-v3", "spark2_5", "kimi-k2", "minicpm5", "laguna", "exaone-moe"}

// FuzzSplitters: every pre-tokenizer cuts any text into non-empty pieces
// that cover it.
func FuzzSplitters(f *testing.F) {
	for _, s := range append(slices.Clone(hardStrings), invalidStrings...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = canonical(s)
		for _, pre := range allPres {
			tk := &Tokenizer{}
			if err := tk.setPre(pre); err != nil {
				t.Fatal(err)
			}
			var r runes
			r.decode(s)
			ends, _ := tk.split.split(&r, nil, nil)
			prev := int32(0)
			for _, e := range ends {
				if e <= prev && len(r.cp) > 0 {
					t.Fatalf("%s: %q: empty or backward piece at %d (%v)", pre, s, e, ends)
				}
				prev = e
			}
			if int(prev) != len(r.cp) {
				t.Fatalf("%s: %q: pieces end at %d of %d", pre, s, prev, len(r.cp))
			}
		}
	})
}
