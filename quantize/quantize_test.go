package quantize

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func open(t *testing.T, path string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// refCase is a reference file made by llama-quantize from source with
// the given mix.
type refCase struct {
	name, source string
	opts         Options
}

// referenceCases lists every quantized reference file with the command
// that made it (MODELS.md): the mix is its general.file_type, --pure is in
// the name, and stories260K's ffn_down was forced to F16.
func referenceCases(t *testing.T) []refCase {
	paths, _ := filepath.Glob(testdata.Path(t, "models", "*.gguf"))
	var out []refCase
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".gguf")
		var source string
		switch {
		case strings.HasPrefix(name, "tiny-qmatrix-") && name != "tiny-qmatrix-F32":
			source = "tiny-qmatrix-F32"
		case strings.HasPrefix(name, "stories260K-"):
			source = "stories260K"
		case strings.HasPrefix(name, "tiny-mixtral-"), strings.HasPrefix(name, "tiny-qwen3moe-"), strings.HasPrefix(name, "tiny-gptoss-"):
			// The mixture-of-experts files llama-quantize made from the F32
			// ones (the F16 files came from the converter).
			if strings.HasSuffix(name, "-F16") {
				continue
			}
			source = name[:strings.LastIndex(name, "-")]
		default:
			continue
		}
		f := open(t, p)
		ft, _ := f.GetInt("general.file_type", -1)
		out = append(out, refCase{name, source, Options{FileType: FileType(ft), Pure: strings.HasSuffix(name, "-pure")}})
	}
	return out
}

// The mixes give every tensor of the reference files the type
// llama-quantize gave it, in its order.
func TestPlanMatchesReferenceFiles(t *testing.T) {
	for _, c := range referenceCases(t) {
		src := open(t, testdata.Path(t, "models", c.source+".gguf"))
		ref := open(t, testdata.Path(t, "models", c.name+".gguf"))
		plans, err := Plan(src, c.opts)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(plans) != len(ref.Tensors) {
			t.Errorf("%s: %d tensors planned, reference has %d", c.name, len(plans), len(ref.Tensors))
			continue
		}
		for i, p := range plans {
			rt := ref.Tensors[i]
			if p.Name != rt.Name || p.To != rt.Type {
				t.Errorf("%s: tensor %d: planned %s %s, reference %s %s", c.name, i, p.Name, p.To, rt.Name, rt.Type)
			}
		}
	}
}

// Quantizing the F32 sources writes files identical, byte for byte, to
// those llama-quantize wrote (metadata, tensor order, padding and data).
func TestQuantizeReproducesReferenceFiles(t *testing.T) {
	for _, c := range referenceCases(t) {
		src := open(t, testdata.Path(t, "models", c.source+".gguf"))
		want, err := os.ReadFile(testdata.Path(t, "models", c.name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Quantize(src, &buf, c.opts); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := buf.Bytes(); !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s (%s): %d bytes written, reference %d; first difference at byte %d", c.name, c.opts.FileType, len(got), len(want), i)
		} else {
			t.Logf("%-28s %-7s identical (%d bytes)", c.name, c.opts.FileType, len(want))
		}
	}
}
