package tokenizer

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// TestLoadTime measures New on every vocabulary (the file is opened first).
func TestLoadTime(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata.Path(t, "vocab"), "*.gguf"))
	for _, p := range files {
		t0 := time.Now()
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		open := time.Since(t0)
		start := time.Now()
		tk, err := New(f)
		el := time.Since(start)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(p), err)
		}
		t.Logf("%-32s %7d tokens  gguf.Open %6.1f ms  New %6.1f ms", filepath.Base(p), tk.NumTokens(),
			open.Seconds()*1000, el.Seconds()*1000)
		// The target is 0.3 s (met with room on a quiet 2-core machine);
		// only a gross regression fails, as CI machines are shared.
		if el > 5*time.Second && !raceEnabled {
			t.Errorf("%s: New took %v", filepath.Base(p), el)
		}
	}
}

var (
	corpusOnce sync.Once
	corpus     string
)

const englishPassage = `It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything before us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other way. In short, the period was so far like the present period, that some of its noisiest authorities insisted on its being received, for good or for evil, in the superlative degree of comparison only.
There were a king with a large jaw and a queen with a plain face, on the throne of England; there were a king with a large jaw and a queen with a fair face, on the throne of France. In both countries it was clearer than crystal to the lords of the State preserves of loaves and fishes, that things in general were settled for ever. It was the year of Our Lord one thousand seven hundred and seventy-five. Spiritual revelations were conceded to England at that favoured period, as at this. Mrs. Southcott had recently attained her five-and-twentieth blessed birthday, of whom a prophetic private in the Life Guards had heralded the sublime appearance by announcing that arrangements were made for the swallowing up of London and Westminster.
`

// benchCorpus is about 1 MB: half English prose, half Go source from
// GOROOT (sorted files, so the text is the same on every run of one Go
// release).
func benchCorpus(tb testing.TB) string {
	corpusOnce.Do(func() {
		var b strings.Builder
		for b.Len() < 512<<10 {
			b.WriteString(englishPassage)
		}
		var files []string
		filepath.WalkDir(filepath.Join(runtime.GOROOT(), "src", "strings"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
		for _, p := range files {
			if b.Len() >= 1<<20 {
				break
			}
			src, err := os.ReadFile(p)
			if err == nil {
				b.Write(src)
			}
		}
		for b.Len() < 1<<20 { // no GOROOT sources: more prose
			b.WriteString(englishPassage)
		}
		corpus = b.String()
	})
	return corpus
}

func BenchmarkEncode(b *testing.B) {
	text := benchCorpus(b)
	for _, name := range []string{"llama-spm", "llama-bpe", "qwen2", "gpt-2", "gemma-4", "bert-bge", "deepseek-llm"} {
		b.Run(name, func(b *testing.B) {
			tk := loadVocab(b, name)
			tk.Encode(text[:1000], false, false)
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				tk.Encode(text, false, false)
			}
		})
	}
}

func BenchmarkEncodeNoCache(b *testing.B) {
	text := benchCorpus(b)
	for _, name := range []string{"llama-spm", "llama-bpe", "qwen2", "gpt-2", "gemma-4"} {
		b.Run(name, func(b *testing.B) {
			tk := *loadVocab(b, name)
			tk.noCache = true // a copy: the shared one keeps its cache
			b.SetBytes(int64(len(text)))
			b.ResetTimer()
			for range b.N {
				tk.Encode(text, false, false)
			}
		})
	}
}

// BenchmarkNew measures loading the largest vocabularies.
func BenchmarkNew(b *testing.B) {
	for _, name := range []string{"gemma-4", "qwen2", "llama-bpe", "llama-spm"} {
		b.Run(name, func(b *testing.B) {
			f, err := gguf.Open(testdata.Path(b, "vocab", "ggml-vocab-"+name+".gguf"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for range b.N {
				if _, err := New(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	text := benchCorpus(b)
	tk := loadVocab(b, "llama-bpe")
	ids := tk.Encode(text, false, false)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		tk.Decode(ids, false)
	}
}
