package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// vocabCase is one test string of a vocab folder and its expected ids.
type vocabCase struct {
	text string
	ids  []int32
}

// readVocabCases reads NAME.gguf.inp and NAME.gguf.out.
func readVocabCases(t testing.TB, base string) []vocabCase {
	t.Helper()
	inp, err := os.ReadFile(base + ".inp")
	if err != nil {
		t.Fatal(err)
	}
	outp, err := os.ReadFile(base + ".out")
	if err != nil {
		t.Fatal(err)
	}
	texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	if texts[len(texts)-1] == "" {
		texts = texts[:len(texts)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(outp), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d strings but %d id lines", base, len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, s := range texts {
		cases[i].text = s
		for _, f := range strings.Fields(lines[i]) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s line %d: %v", base, i+1, err)
			}
			cases[i].ids = append(cases[i].ids, int32(n))
		}
	}
	return cases
}

var (
	loadedMu sync.Mutex
	loaded   = map[string]*Tokenizer{}
)

// loadVocab opens testdata/vocab/ggml-vocab-NAME.gguf (cached across tests).
func loadVocab(t testing.TB, name string) *Tokenizer {
	t.Helper()
	path := testdata.Path(t, "vocab", "ggml-vocab-"+name+".gguf")
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tk, ok := loaded[path]; ok {
		return tk
	}
	tk := loadFile(t, path)
	loaded[path] = tk
	return tk
}

func loadFile(t testing.TB, path string) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tk, err := New(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return tk
}

// TestVocabVectors runs every .inp/.out pair of the vocab folder
// (add_special=false, parse_special=false) and checks that decoding the
// expected ids gives the input back wherever the reference round-trips.
func TestVocabVectors(t *testing.T) {
	dir := testdata.Path(t, "vocab")
	inps, _ := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	if len(inps) == 0 {
		t.Skip("no vocab test vectors")
	}
	total := 0
	for _, inp := range inps {
		base := strings.TrimSuffix(inp, ".inp")
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(base), "ggml-vocab-"), ".gguf")
		t.Run(name, func(t *testing.T) {
			tk := loadVocab(t, name)
			cases := readVocabCases(t, base)
			bad, rt, lossy := 0, 0, 0
			for i, c := range cases {
				got := tk.Encode(c.text, false, false)
				if !slices.Equal(got, c.ids) {
					bad++
					if bad <= 5 {
						t.Errorf("case %d %q:\n got  %v\n want %v", i, c.text, got, c.ids)
					}
				}
				back := tk.Detokenize(c.ids, false)
				if back == c.text {
					rt++
				} else if why := lossyReason(tk, c.text, back); why != "" {
					lossy++
				} else {
					t.Errorf("case %d %q: decodes to %q", i, c.text, back)
				}
			}
			total += len(cases)
			t.Logf("%-15s %3d cases, %d mismatches, %d round-trip, %d lossy by design", name, len(cases), bad, rt, lossy)
		})
	}
	t.Logf("%d cases in all", total)
}

// lossyReason explains why decoding cannot give the text back, from the
// reference's own lossy steps; "" when nothing explains it.
func lossyReason(tk *Tokenizer, text, back string) string {
	switch {
	case tk.fam == famWPM:
		return "WordPiece normalizes and splits"
	case tk.cleanSpaces && string(cleanSpaces([]byte(text))) == back:
		return "clean-up of spaces"
	case tk.fam == famSPM && tk.addSpacePrefix && text != "" && text[0] == ' ' && back == text[1:]:
		return "a leading space is eaten with the prefix space"
	}
	return ""
}

func TestDecodeCleanSpaces(t *testing.T) {
	cases := map[string]string{
		"":                "",
		"a , b":           "a, b",
		" .":              ".",
		"x ' y":           "x'y",
		"a ' ' b":         "a'' b",
		"it 's I 'm":      "it's I'm",
		"we 're they 've": "we're they've",
		"I 'll he 'd":     "I 'll he 'd",
		"don 't":          "don 't",
	}
	for in, want := range cases {
		if got := string(cleanSpaces([]byte(in))); got != want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", in, got, want)
		}
	}
}
