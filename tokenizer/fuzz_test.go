package tokenizer

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzEncode checks on arbitrary bytes that Encode and Decode never fail,
// that byte-level and byte-fallback vocabularies give the bytes back, that
// the stream adds up to Decode, and that word-by-word tokenization and the
// cache change nothing.
func FuzzEncode(f *testing.F) {
	for _, s := range append(slices.Clone(hardStrings), invalidStrings...) {
		f.Add(s)
	}
	names := []string{"llama-spm", "phi-3", "llama-bpe", "qwen35", "gpt-2", "falcon", "deepseek-llm",
		"deepseek-coder", "starcoder", "gemma-4", "bert-bge"}
	var tks, plains []*Tokenizer
	for _, n := range names {
		tk := loadVocab(f, n)
		p := *tk
		p.wordSplit, p.noCache = false, true
		tks, plains = append(tks, tk), append(plains, &p)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		for i, tk := range tks {
			for _, parse := range []bool{false, true} {
				ids := tk.Encode(s, true, parse)
				for _, id := range ids {
					if id < 0 || int(id) >= tk.NumTokens() {
						t.Fatalf("%s: id %d", names[i], id)
					}
				}
				if p := plains[i].Encode(s, true, parse); !slices.Equal(ids, p) {
					t.Fatalf("%s: %q: %v with word splitting and cache, %v without", names[i], s, ids, p)
				}
				dec := tk.Decode(ids, true)
				tk.Detokenize(ids, parse)
				d := tk.NewStreamDecoder(true)
				var st string
				for _, id := range ids {
					part := d.Add(id)
					if utf8.ValidString(dec) && !utf8.ValidString(part) {
						t.Fatalf("%s: stream part %q", names[i], part)
					}
					st += part
				}
				if st += d.Flush(); st != dec {
					t.Fatalf("%s: stream %q, Decode %q", names[i], st, dec)
				}
			}
			if hasUserDefinedText(tk, s) || missingByte(tk, s) || s == "" {
				continue
			}
			ids := tk.Encode(s, false, false)
			got := tk.Decode(ids, false)
			switch {
			case tk.fam == famBPE && got != canonical(s):
				t.Fatalf("%s: Decode(Encode(%q)) = %q", names[i], s, got)
			case tk.fam == famSPM && utf8.ValidString(s) && got != " "+s:
				t.Fatalf("%s: Decode(Encode(%q)) = %q", names[i], s, got)
			}
		}
	})
}
