package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

var shimmerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shimmer-cli")
	if err != nil {
		panic(err)
	}
	shimmerBin = filepath.Join(dir, "shimmer")
	if out, err := exec.Command("go", append(append([]string{"build"}, buildTags...), "-o", shimmerBin, ".")...).CombinedOutput(); err != nil {
		fmt.Printf("building shimmer: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shimmer runs the shimmerBin and returns stdout, stderr and the exit status.
func shimmer(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, exec.Command(shimmerBin, args...), stdin)
}

// runCmd runs cmd with stdin and returns stdout, stderr and the exit status.
func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// run prints exactly llama.cpp's greedy text, for every text case of the
// three stories260K files, with the F32 KV cache the references were made
// with (llama.cpp's own F16 cache changes the last token of one Q4_0 case).
func TestRunGreedyText(t *testing.T) {
	for _, m := range []string{"stories260K", "stories260K-Q8_0", "stories260K-Q4_0"} {
		for _, c := range []string{"text-once", "text-lily", "text-dog"} {
			ref := testdata.LoadReference(t, m+"."+c)
			// The references were made with an F32 KV cache (-ctk f32).
			out, errs, code := shimmer(t, "", "run", "-m", testdata.Path(t, "models", m+".gguf"), "-ctk", "f32", "-ctv", "f32", "--temp", "0", "-n", fmt.Sprint(ref.NGen), ref.PromptText)
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", m, c, code, errs)
			}
			if out != ref.GreedyText {
				t.Errorf("%s %s:\n got %q\nwant %q", m, c, out, ref.GreedyText)
			}
			if !strings.Contains(errs, "tokens/s") {
				t.Errorf("%s %s: no timings on stderr: %q", m, c, errs)
			}
		}
	}
}

// Without -m, run uses the built-in demo model and says so on stderr: the
// README's first command gives llama.cpp's greedy text on every
// stories260K text case, with no model file; commands that need a model
// still ask for one.
func TestRunDemoModel(t *testing.T) {
	for _, c := range []string{"text-once", "text-lily", "text-dog"} {
		ref := testdata.LoadReference(t, "stories260K."+c)
		out, errs, code := shimmer(t, "", "run", "--temp", "0", "-n", fmt.Sprint(ref.NGen), ref.PromptText)
		if code != 0 || out != ref.GreedyText {
			t.Errorf("%s: exit %d, %q, want %q (%s)", c, code, out, ref.GreedyText, errs)
		}
		if !strings.Contains(errs, "built-in demo model stories260K") {
			t.Errorf("%s: stderr does not name the demo model: %q", c, errs)
		}
	}
	if _, errs, code := shimmer(t, "", "embed", "hi"); code == 0 || !strings.Contains(errs, "no model given") {
		t.Errorf("embed without -m: exit %d, %q", code, errs)
	}
	// serve without -m serves it, under its name.
	ref := testdata.LoadReference(t, "stories260K.text-once")
	_, url := startServeArgs(t)
	body := fmt.Sprintf(`{"model": "stories260K", "prompt": %q, "max_tokens": %d, "temperature": 0}`, ref.PromptText, ref.NGen)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct{ Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Choices) != 1 || out.Choices[0].Text != ref.GreedyText {
		t.Errorf("serve without -m: %d %+v %v, want %q", resp.StatusCode, out, err, ref.GreedyText)
	}
}

func TestLogitsCommand(t *testing.T) {
	ref := testdata.LoadReference(t, "stories260K-Q4_0.ids")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.f32")
	gen := filepath.Join(dir, "gen.f32")
	stdout, errs, code := shimmer(t, "", "logits", "-m", testdata.Path(t, "models", "stories260K-Q4_0.gguf"),
		"--ids", joinIDs(ref.PromptIDs), "-o", out, "--gen", fmt.Sprint(ref.NGen), "--gen-logits", gen)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "gen_ids: " + joinIDs(ref.GreedyIDs) + "\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	rows, err := testdata.ReadF32Rows(out, ref.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != ref.NPrompt {
		t.Fatalf("%d rows, want %d", len(rows), ref.NPrompt)
	}
	if d := testdata.MaxAbsDiff(rows, ref.Logits); d > 3e-2 {
		t.Errorf("prompt logits differ by %g", d)
	}
	grows, err := testdata.ReadF32Rows(gen, ref.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	if len(grows) != ref.NGen || testdata.MaxAbsDiff(grows, ref.GenLogits) > 3e-2 {
		t.Errorf("generation logits: %d rows, differ by %g", len(grows), testdata.MaxAbsDiff(grows, ref.GenLogits))
	}
}

func TestTokenizeCommands(t *testing.T) {
	model := testdata.Path(t, "models", "stories260K.gguf")
	ref := testdata.LoadReference(t, "stories260K.text-lily")
	out, errs, code := shimmer(t, "", "tokenize", "-m", model, ref.PromptText)
	if code != 0 {
		t.Fatal(errs)
	}
	want := "[" + strings.ReplaceAll(joinIDs(ref.PromptIDs), " ", ", ") + "]\n"
	if out != want {
		t.Errorf("tokenize: %q, want %q", out, want)
	}
	out, _, _ = shimmer(t, "\"Once upon a time\"\n\"The little dog was\"\n", "tokenize", "-m", model, "--jsonl", "--no-bos")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || strings.HasPrefix(lines[0], "[1,") {
		t.Errorf("tokenize --jsonl --no-bos: %q", out)
	}
	out, errs, code = shimmer(t, "", append([]string{"detokenize", "-m", model}, strings.Fields(joinIDs(ref.GreedyIDs))...)...)
	if code != 0 || out != ref.GreedyText {
		t.Errorf("detokenize: %q (%s), want %q", out, errs, ref.GreedyText)
	}
	out, _, _ = shimmer(t, "["+strings.ReplaceAll(joinIDs(ref.GreedyIDs), " ", ",")+"]\n", "detokenize", "-m", model, "--jsonl")
	if want := fmt.Sprintf("%q\n", ref.GreedyText); out != want {
		t.Errorf("detokenize --jsonl: %q, want %q", out, want)
	}
}

func TestTokenizePieces(t *testing.T) {
	model := testdata.Path(t, "vocab", "ggml-vocab-llama-spm.gguf")
	out, errs, code := shimmer(t, "", "tokenize", "-m", model, "--pieces", "Hello world")
	if want := `[{"id": 1, "piece": "<s>"}, {"id": 15043, "piece": " Hello"}, {"id": 3186, "piece": " world"}]` + "\n"; code != 0 || out != want {
		t.Errorf("tokenize --pieces: %q (%s), want %q", out, errs, want)
	}
	out, _, _ = shimmer(t, "\"a\\tb\"\n\"\"\n", "tokenize", "-m", model, "--pieces", "--jsonl", "--no-bos")
	if want := `[{"id": 263, "piece": " a"}, {"id": 12, "piece": "\t"}, {"id": 29890, "piece": "b"}]` + "\n[]\n"; out != want {
		t.Errorf("tokenize --pieces --jsonl: %q, want %q", out, want)
	}
	out, _, _ = shimmer(t, "", "detokenize", "-m", model, "--pieces", "1", "15043", "3186")
	if want := `["<s>", " Hello", " world"]` + "\n"; out != want {
		t.Errorf("detokenize --pieces: %q, want %q", out, want)
	}
	out, _, _ = shimmer(t, "[1, 15043]\n", "detokenize", "-m", model, "--pieces", "--jsonl", "--no-special")
	if want := `["", " Hello"]` + "\n"; out != want {
		t.Errorf("detokenize --pieces --jsonl --no-special: %q, want %q", out, want)
	}
	// Byte tokens: JSON escapes, and U+FFFD for a lone byte.
	out, _, _ = shimmer(t, "", "detokenize", "-m", model, "--pieces", "37", "13", "243", "162", "169", "156")
	if want := `["\"", "\n", "\ufffd", "\ufffd", "\ufffd", "\ufffd"]` + "\n"; out != want {
		t.Errorf("detokenize --pieces bytes: %q, want %q", out, want)
	}
	out, _, _ = shimmer(t, "", "detokenize", "-m", model, "243", "162", "169", "156")
	if out != "🦙" {
		t.Errorf("detokenize bytes: %q", out)
	}
}

// Thousands of strings go through one process quickly.
func TestTokenizeJSONLBatch(t *testing.T) {
	model := testdata.Path(t, "vocab", "ggml-vocab-llama-bpe.gguf")
	var in strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&in, "%q\n", fmt.Sprintf("Line %d: the quick brown fox jumps over the lazy dog, %d times.", i, i*i))
	}
	start := time.Now()
	out, errs, code := shimmer(t, in.String(), "tokenize", "-m", model, "--jsonl")
	el := time.Since(start)
	if code != 0 || strings.Count(out, "\n") != 5000 {
		t.Fatalf("exit %d, %d lines: %s", code, strings.Count(out, "\n"), errs)
	}
	t.Logf("5000 strings in %v", el)
}

// Bad input ends with a non-zero exit and one clear line, never a panic.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	stories, err := os.ReadFile(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.gguf")
	os.WriteFile(truncated, stories[:len(stories)/2], 0o644)
	hostile := filepath.Join(dir, "hostile.gguf")
	writeWithKey(t, testdata.Path(t, "models", "stories260K.gguf"), hostile, "llama.block_count", uint32(1<<28))
	notGGUF := filepath.Join(dir, "text.gguf")
	os.WriteFile(notGGUF, []byte("hello, this is not a model file"), 0o644)
	cases := []struct {
		args []string
		has  string
	}{
		{[]string{"run", "-m", filepath.Join(dir, "missing.gguf"), "hi"}, "no such file"},
		{[]string{"run", "-m", truncated, "hi"}, "truncated"},
		{[]string{"run", "-m", notGGUF, "hi"}, "not a GGUF file"},
		{[]string{"embed", "hi"}, "no model given"},
		{[]string{"run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--temp", "-1", "hi"}, "--temp"},
		{[]string{"run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--bogus", "hi"}, "unknown flag"},
		{[]string{"run", "-m", testdata.Path(t, "vocab", "ggml-vocab-llama-spm.gguf"), "hi"}, "no tensors"},
		{[]string{"run", "-m", testdata.Path(t, "format", "genworker-gguf-unknown-type.gguf"), "hi"}, "unknown type 43"},
		{[]string{"run", "-m", testdata.Path(t, "format", "genworker-gguf-unsupported-version.gguf"), "hi"}, "version 4"},
		{[]string{"run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "-c", "8", "Once upon a time there was a little girl"}, "context"},
		{[]string{"info", truncated}, "truncated"},
		// A hostile layer count is refused before anything is sized by it.
		{[]string{"run", "-m", hostile, "hi"}, "block_count 268435456 is more than the file's 48 tensors"},
		{[]string{"logits", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--ids", "1 99999", "-o", filepath.Join(dir, "x.f32")}, "out of range"},
		{[]string{"detokenize", "-m", testdata.Path(t, "models", "stories260K.gguf"), "7000"}, "out of range"},
		{[]string{"nosuchcommand"}, "unknown command"},
		{[]string{"run", "-ctk", "q4", "hi"}, `--cache-type-k: model: KV cache type "q4" is not supported`},
		{[]string{"bench", "-m", filepath.Join(dir, "missing.gguf"), "-ctv=bf16"}, "--cache-type-v"},
		// A KV cache that cannot fit the machine, or a budget, is refused
		// at load with one line (it used to start and die later).
		{[]string{"serve", "-m", testdata.Path(t, "models", "stories260K.gguf"), "-c", "100000000", "--parallel", "64", "--port", "0"}, "more than"},
		{[]string{"run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--memory", "2MiB", "-c", "4096", "hi"}, "memory budget of 2.0 MiB"},
		{[]string{"run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--memory", "lots", "hi"}, "not a size"},
	}
	for _, c := range cases {
		_, errs, code := shimmer(t, "", c.args...)
		lines := strings.Split(strings.TrimRight(errs, "\n"), "\n")
		if code == 0 || len(lines) != 1 || !strings.Contains(errs, c.has) || strings.Contains(errs, "goroutine") {
			t.Errorf("shimmer %s: exit %d, stderr %q (want one line mentioning %q)", strings.Join(c.args, " "), code, errs, c.has)
		}
	}
}

// writeWithKey copies a GGUF file with one metadata key set.
func writeWithKey(t *testing.T, src, dst, key string, value any) {
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KV {
		w.Set(kv.Key, kv.Value)
	}
	if err := w.Set(key, value); err != nil {
		t.Fatal(err)
	}
	for _, ti := range f.Tensors {
		w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// shimmer info describes a hostile file and names what stops it loading,
// quickly.
func TestInfoHostile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hostile.gguf")
	writeWithKey(t, testdata.Path(t, "models", "stories260K.gguf"), path, "llama.block_count", uint32(1<<28))
	start := time.Now()
	out, errs, code := shimmer(t, "", "info", path)
	if code != 0 || !strings.Contains(out, "load check:  model: llama.block_count 268435456") || errs != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("info took %v", took)
	}
}

// shimmer info on a real file prints what MODELS.md documents for it:
// stories260K-Q4_0 holds 48 tensors (Q4_0×31, F32×11 norms, F16×5
// ffn_down, Q8_0×1 output) in 277024 bytes, vocab 512, n_embd 64, 5
// layers, 8/4 heads of 8, ff 172, NORM rope base 10000 over 8 dims, ctx
// 2048, eps 1e-5; its F16 KV cache (the default) takes 5 × 2048 × (32+32)
// × 2 bytes = 1.25 MiB per sequence at 2048 tokens.
func TestInfoRealFile(t *testing.T) {
	out, errs, code := shimmer(t, "", "info", testdata.Path(t, "models", "stories260K-Q4_0.gguf"))
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"GGUF v3, 270.5 KiB", "48 tensors", "F16×5", "F32×11", "Q4_0×31", "Q8_0×1",
		"vocabulary             512", "embedding              64", "layers                 5",
		"heads                  8 query, 4 key/value", "head width             8", "feed-forward           172",
		"context (trained)      2048", "rms norm eps           1e-05", "rope                   norm, 8 dims, base 10000",
		"KV cache 1.25 MiB per sequence at 2048 tokens (F16",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
}

// --f16-as-bf16 reaches the engine: on a CPU with BF16 dot products the
// F16 model's logits change (its numerics are held to llama.cpp's in
// model/archs TestF16AsBF16) and stderr says how many matrices changed;
// elsewhere it says the option had no effect and the logits are the exact
// ones.
func TestF16AsBF16Flag(t *testing.T) {
	ref := testdata.LoadReference(t, "tiny-qmatrix-F16.ids")
	model := testdata.Path(t, "models", "tiny-qmatrix-F16.gguf")
	dir := t.TempDir()
	logits := func(name string, extra ...string) ([][]float32, string) {
		out := filepath.Join(dir, name)
		args := append([]string{"logits", "-m", model, "--ids", joinIDs(ref.PromptIDs), "-o", out}, extra...)
		_, errs, code := shimmer(t, "", args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		rows, err := testdata.ReadF32Rows(out, ref.NVocab)
		if err != nil {
			t.Fatal(err)
		}
		return rows, errs
	}
	exact, _ := logits("exact.f32")
	asBF16, errs := logits("bf16.f32", "--f16-as-bf16")
	d := testdata.MaxAbsDiff(asBF16, exact)
	if compute.BF16DotProducts() {
		if !strings.Contains(errs, "F16 matrices multiply as BF16") || d == 0 {
			t.Errorf("--f16-as-bf16 on a CPU with BF16 dot products: logits moved by %g, stderr %q", d, errs)
		}
	} else if !strings.Contains(errs, "has no effect") || d != 0 {
		t.Errorf("--f16-as-bf16 without BF16 dot products: logits moved by %g, stderr %q", d, errs)
	}
}
