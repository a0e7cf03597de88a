// Package testdata locates the shared reference data (../shared/testdata
// beside the repository) for tests, and reads llama.cpp's reference outputs.
package testdata

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Dir returns the shared testdata folder. When it is absent the test
// fails in CI (CI set to anything but "" or "false": a run without the
// reference data proves nothing) and is skipped elsewhere, the first skip
// of the test binary printing one line on stderr. SHIMMER_TESTDATA
// overrides the location.
func Dir(tb testing.TB) string {
	tb.Helper()
	d, err := Find()
	if err != nil {
		if InCI() {
			tb.Fatalf("reference data missing in CI: %v", err)
		}
		skipOnce.Do(func() {
			fmt.Fprintf(os.Stderr, "%s: reference tests skipped: %v\n", filepath.Base(os.Args[0]), err)
		})
		tb.Skipf("reference data not available: %v", err)
	}
	return d
}

var skipOnce sync.Once

// InCI reports whether the tests run in CI (the CI variable set, as CI
// services and .ci/run do).
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Require is for a package's TestMain whose every test needs the reference
// data: when it is absent it prints one line and exits, with status 1 in CI
// and 0 elsewhere.
func Require(pkg string) {
	if _, err := Find(); err != nil {
		if InCI() {
			fmt.Printf("%s tests: reference data missing in CI: %v\n", pkg, err)
			os.Exit(1)
		}
		fmt.Printf("%s tests skipped: reference data not available: %v\n", pkg, err)
		os.Exit(0)
	}
}

// Path joins elems onto Dir.
func Path(tb testing.TB, elems ...string) string {
	tb.Helper()
	return filepath.Join(append([]string{Dir(tb)}, elems...)...)
}

// Find returns the shared testdata folder or an error saying where it looked.
func Find() (string, error) {
	if d := os.Getenv("SHIMMER_TESTDATA"); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the repository")
	}
	// file is <repo>/internal/testdata/testdata.go.
	repo := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	d := filepath.Join(repo, "..", "shared", "testdata")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s is not a folder (set SHIMMER_TESTDATA to its location)", d)
	}
	return filepath.Clean(d), nil
}

// Reference is one llama.cpp reference case (reference/<model>.<case>.json).
type Reference struct {
	Model         string    `json:"model"`
	Case          string    `json:"case"`
	PromptText    string    `json:"prompt_text"`
	PromptIDs     []int32   `json:"prompt_ids"`
	GreedyIDs     []int32   `json:"greedy_ids"`
	GreedyText    string    `json:"greedy_text"`
	GreedyLossy   bool      `json:"greedy_text_lossy"`
	GreedyHex     string    `json:"greedy_text_hex"`
	GreedyMargins []float64 `json:"greedy_margins"`
	NVocab        int       `json:"n_vocab"`
	NPrompt       int       `json:"n_prompt"`
	NGen          int       `json:"n_gen"`
	LogitsFile    string    `json:"logits_file"`
	GenLogitsFile string    `json:"gen_logits_file"`
	// Adapter and AdapterScale: the LoRA adapter (in models/) the case
	// was run with, and its scale (lora/ cases only).
	Adapter      string  `json:"adapter"`
	AdapterScale float32 `json:"adapter_scale"`

	// Logits holds n_prompt rows of n_vocab; GenLogits n_gen rows.
	Logits    [][]float32 `json:"-"`
	GenLogits [][]float32 `json:"-"`
}

// LoadReference reads reference/<name>.json and its logits files.
func LoadReference(tb testing.TB, name string) *Reference {
	tb.Helper()
	return LoadReferenceIn(tb, "reference", name)
}

// LoadReferenceIn is LoadReference for a case kept in another directory
// of the test data (lora/).
func LoadReferenceIn(tb testing.TB, subdir, name string) *Reference {
	tb.Helper()
	dir := Path(tb, subdir)
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	if r.Logits, err = ReadF32Rows(filepath.Join(dir, r.LogitsFile), r.NVocab); err != nil {
		tb.Fatal(err)
	}
	if r.GenLogits, err = ReadF32Rows(filepath.Join(dir, r.GenLogitsFile), r.NVocab); err != nil {
		tb.Fatal(err)
	}
	if len(r.Logits) != r.NPrompt {
		tb.Fatalf("%s: %d logit rows, expected %d", name, len(r.Logits), r.NPrompt)
	}
	return &r
}

// ReadF32Rows reads a raw little-endian float32 file as rows of width n.
func ReadF32Rows(path string, n int) ([][]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if n <= 0 || len(b)%(4*n) != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-float rows", path, len(b), n)
	}
	rows := make([][]float32, len(b)/(4*n))
	for i := range rows {
		rows[i] = make([]float32, n)
		for j := range rows[i] {
			rows[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*n+j):]))
		}
	}
	return rows, nil
}

// MaxAbsDiff returns the largest |a-b| over two equally shaped row sets.
func MaxAbsDiff(a, b [][]float32) float64 {
	var m float64
	for i := range a {
		for j := range a[i] {
			d := math.Abs(float64(a[i][j]) - float64(b[i][j]))
			if d > m || math.IsNaN(d) {
				m = d
			}
		}
	}
	return m
}
