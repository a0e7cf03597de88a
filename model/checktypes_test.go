package model_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/model"
)

// A file holding a tensor type shimmer does not implement is refused with
// an error naming the type and the tensor, for every such GGUF type; the
// implemented ones pass.
func TestCheckTypesNamesMissingTypes(t *testing.T) {
	missing := []gguf.Type{gguf.TypeIQ1_S, gguf.TypeIQ1_M, gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS,
		gguf.TypeIQ2_S, gguf.TypeIQ3_XXS, gguf.TypeTQ1_0}
	present := []gguf.Type{gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K,
		gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeIQ4_NL, gguf.TypeIQ4_XS, gguf.TypeIQ3_S, gguf.TypeTQ2_0, gguf.TypeMXFP4}
	for i, ty := range append(missing, present...) {
		isMissing := i < len(missing)
		w := gguf.NewWriter()
		if err := w.AddTensor("blk.0.attn_q.weight", ty, []uint64{256, 2}, make([]byte, 2*ty.RowBytes(256))); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		err = model.CheckTypes(f)
		switch {
		case isMissing && (err == nil || !strings.Contains(err.Error(), ty.String()) || !strings.Contains(err.Error(), "blk.0.attn_q.weight")):
			t.Errorf("%s: error %v, want one naming the type and the tensor", ty, err)
		case !isMissing && err != nil:
			t.Errorf("%s: %v", ty, err)
		}
	}
}
