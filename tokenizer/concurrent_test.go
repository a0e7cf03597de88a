package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentEncode: a Tokenizer is shared by goroutines (the word cache
// is the only mutable state).
func TestConcurrentEncode(t *testing.T) {
	text := benchCorpus(t)[:20000]
	for _, name := range []string{"llama-spm", "llama-bpe", "gemma-4"} {
		tk := loadVocab(t, name)
		want := tk.Encode(text, true, true)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 3 {
					s := text[(g+i)*1000:]
					got := tk.Encode(s, false, false)
					if len(got) == 0 {
						t.Errorf("%s: nothing", name)
					}
				}
				if got := tk.Encode(text, true, true); !slices.Equal(got, want) {
					t.Errorf("%s: concurrent Encode differs", name)
				}
			})
		}
		wg.Wait()
	}
}
