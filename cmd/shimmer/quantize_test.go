package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/quantize"
)

// `shimmer quantize SOURCE OUT TYPE` writes exactly the file llama-quantize
// wrote for every quantized reference model (so its weight error and
// logits are the reference file's; see quantize's tests for both).
func TestQuantizeCommand(t *testing.T) {
	paths, _ := filepath.Glob(testdata.Path(t, "models", "*.gguf"))
	dir := t.TempDir()
	n := 0
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".gguf")
		src := "tiny-qmatrix-F32"
		switch {
		case strings.HasPrefix(name, "stories260K-"):
			src = "stories260K"
		case !strings.HasPrefix(name, "tiny-qmatrix-") || name == src:
			continue
		}
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ft, _ := f.GetInt("general.file_type", -1)
		f.Close()
		out := filepath.Join(dir, name+".gguf")
		args := []string{"quantize", "-q", testdata.Path(t, "models", src+".gguf"), out, quantize.FileType(ft).String()}
		if strings.HasSuffix(name, "-pure") {
			args = append(args, "--pure")
		}
		_, errs, code := shimmer(t, "", args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, errs)
			continue
		}
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: written file differs from the reference (%d vs %d bytes)", name, len(got), len(want))
		}
		n++
	}
	t.Logf("%d reference files reproduced", n)
}

// Bad arguments and types that cannot be produced end with one line on
// stderr, a non-zero status and no output file.
func TestQuantizeCommandErrors(t *testing.T) {
	src := testdata.Path(t, "models", "tiny-qmatrix-F32.gguf")
	out := filepath.Join(t.TempDir(), "out.gguf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{src, out, "Q9_9"}, "unknown quantization type"},
		{[]string{src, out, "IQ2_XXS"}, "cannot produce type IQ2_XXS"},
		{[]string{src, out, "Q8_0", "--output-type", "nope"}, "unknown tensor type"},
		{[]string{testdata.Path(t, "models", "tiny-qmatrix-Q4_0.gguf"), out, "Q8_0"}, "only F32, F16 and BF16"},
		{[]string{src + ".missing", out, "Q8_0"}, "no such file"},
		{[]string{src, src, "Q8_0"}, "is the input file"},
	} {
		_, errs, code := shimmer(t, "", append([]string{"quantize"}, c.args...)...)
		if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q (want one line mentioning %q)", c.args, code, errs, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: wrote %s", c.args, out)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}
