package quant

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// openModel opens models/<name>.gguf of the reference data.
func openModel(t *testing.T, name string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(testdata.Path(t, "models", name+".gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tensorF32 decodes a whole tensor to float32.
func tensorF32(t *testing.T, ti *gguf.TensorInfo) []float32 {
	t.Helper()
	out := make([]float32, ti.Elements())
	if err := DequantizeRow(ti.Type, out, ti.Data); err != nil {
		t.Fatalf("%s: %v", ti.Name, err)
	}
	return out
}

// quantizedModels lists the reference files made by llama-quantize from
// the given F32 source: the tiny-qmatrix set.
func quantizedModels(t *testing.T) []string {
	paths, _ := filepath.Glob(testdata.Path(t, "models", "tiny-qmatrix-*.gguf"))
	var out []string
	for _, p := range paths {
		n := strings.TrimSuffix(filepath.Base(p), ".gguf")
		if n != "tiny-qmatrix-F32" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Re-quantizing the F32 source tensors with our quantizers reproduces the
// tensors of the files llama-quantize wrote, byte for byte.
func TestQuantizeMatchesReferenceFiles(t *testing.T) {
	src := openModel(t, "tiny-qmatrix-F32")
	type stat struct{ tensors, same, blocks, sameBlocks int }
	stats := map[gguf.Type]*stat{}
	for _, name := range quantizedModels(t) {
		f := openModel(t, name)
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if ti.Type == gguf.TypeF32 {
				continue
			}
			tr, err := Lookup(ti.Type)
			if err != nil || tr.Quantize == nil {
				t.Errorf("%s: %s: cannot quantize %s", name, ti.Name, ti.Type)
				continue
			}
			si, ok := src.Tensor(ti.Name)
			if !ok {
				t.Fatalf("%s missing from the F32 source", ti.Name)
			}
			x := tensorF32(t, si)
			got := make([]byte, len(ti.Data))
			cols := int(ti.Dims[0])
			rb := tr.RowBytes(cols)
			for r := 0; r < len(x)/cols; r++ {
				tr.Quantize(got[r*rb:(r+1)*rb], x[r*cols:(r+1)*cols])
			}
			s := stats[ti.Type]
			if s == nil {
				s = &stat{}
				stats[ti.Type] = s
			}
			s.tensors++
			if bytes.Equal(got, ti.Data) {
				s.same++
			}
			for b := 0; b < len(got)/tr.BlockBytes; b++ {
				s.blocks++
				if bytes.Equal(got[b*tr.BlockBytes:(b+1)*tr.BlockBytes], ti.Data[b*tr.BlockBytes:(b+1)*tr.BlockBytes]) {
					s.sameBlocks++
				}
			}
		}
	}
	var types []gguf.Type
	for ty := range stats {
		types = append(types, ty)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	for _, ty := range types {
		s := stats[ty]
		msg := fmt.Sprintf("%-7s %3d/%3d tensors identical, %6d/%6d blocks", ty, s.same, s.tensors, s.sameBlocks, s.blocks)
		t.Log(msg)
		if s.same != s.tensors {
			t.Errorf("%s differs from llama-quantize's output", msg)
		}
	}
}

// rmse returns the root-mean-square difference of a and b.
func rmse(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s / float64(len(a)))
}
