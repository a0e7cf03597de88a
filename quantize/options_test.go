package quantize

import (
	"io"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func TestParseFileType(t *testing.T) {
	for in, want := range map[string]FileType{"q4_k_m": FileTypeQ4_K_M, "Q4_K": FileTypeQ4_K_M, "Q3_K": FileTypeQ3_K_M,
		"Q8_0": FileTypeQ8_0, "15": FileTypeQ4_K_M, "iq4_xs": FileTypeIQ4_XS, "TQ2_0": FileTypeTQ2_0, "F16": FileTypeF16} {
		if got, err := ParseFileType(in); err != nil || got != want {
			t.Errorf("ParseFileType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Q9_0", "4", "99"} {
		if _, err := ParseFileType(bad); err == nil || !strings.HasPrefix(err.Error(), "quantize: ") {
			t.Errorf("ParseFileType(%q): error %v", bad, err)
		}
	}
}

// --output-type and --token-embedding-type override the mix.
func TestPlanOverrides(t *testing.T) {
	src := open(t, testdata.Path(t, "models", "tiny-qmatrix-F32.gguf"))
	q8, q4 := gguf.TypeQ8_0, gguf.TypeQ4_K
	plans, err := Plan(src, Options{FileType: FileTypeQ4_K_M, OutputType: &q8, TokenEmbeddingType: &q4})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		switch p.Name {
		case "output.weight":
			if p.To != q8 {
				t.Errorf("output.weight: %s", p.To)
			}
		case "token_embd.weight":
			if p.To != q4 {
				t.Errorf("token_embd.weight: %s", p.To)
			}
		case "output_norm.weight":
			if p.To != gguf.TypeF32 {
				t.Errorf("output_norm.weight: %s", p.To)
			}
		}
	}
}

// Types that cannot be produced, importance-matrix mixes and quantized
// inputs are refused with an error naming the tensor or the mix.
func TestPlanRefuses(t *testing.T) {
	src := open(t, testdata.Path(t, "models", "tiny-qmatrix-F32.gguf"))
	for _, ft := range []FileType{FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ1_S,
		FileTypeIQ1_M, FileTypeIQ3_XXS, FileTypeIQ3_XS, FileTypeTQ1_0, FileTypeQ2_K_S} {
		_, err := Plan(src, Options{FileType: ft})
		if err == nil || !strings.HasPrefix(err.Error(), "quantize: ") {
			t.Errorf("%s: error %v", ft, err)
		}
	}
	if _, err := Plan(src, Options{FileType: FileType(5)}); err == nil {
		t.Error("file type 5 accepted")
	}
	q := open(t, testdata.Path(t, "models", "tiny-qmatrix-Q4_0.gguf"))
	err := Quantize(q, io.Discard, Options{FileType: FileTypeQ8_0})
	if err == nil || !strings.Contains(err.Error(), "only F32, F16 and BF16") {
		t.Errorf("requantizing Q4_0: %v", err)
	}
}

// Progress is reported once per tensor, in order, ending at the total.
func TestProgress(t *testing.T) {
	src := open(t, testdata.Path(t, "models", "stories260K.gguf"))
	var seen []Progress
	err := Quantize(src, io.Discard, Options{FileType: FileTypeQ8_0, Progress: func(p Progress) { seen = append(seen, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(src.Tensors) {
		t.Fatalf("%d progress calls for %d tensors", len(seen), len(src.Tensors))
	}
	for i, p := range seen {
		if p.Index != i+1 || p.Count != len(src.Tensors) {
			t.Errorf("call %d: %d/%d", i, p.Index, p.Count)
		}
	}
	if last := seen[len(seen)-1]; last.Written != last.Total {
		t.Errorf("wrote %d of %d bytes", last.Written, last.Total)
	}
}
