package quantize

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/reftest"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	_ "github.com/shimmer-llm/shimmer/model/archs"
	"github.com/shimmer-llm/shimmer/quant"
)

// weightRMSE is the RMS difference between the dequantized 2-D tensors of
// f and the same tensors of the F32 source.
func weightRMSE(t *testing.T, f, src *gguf.File) float64 {
	t.Helper()
	var sum float64
	var n int
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if nDims(ti.Dims) < 2 {
			continue
		}
		si, ok := src.Tensor(ti.Name)
		if !ok {
			t.Fatalf("%s not in the source", ti.Name)
		}
		a := make([]float32, ti.Elements())
		b := make([]float32, si.Elements())
		if err := quant.DequantizeRow(ti.Type, a, ti.Data); err != nil {
			t.Fatal(err)
		}
		if err := quant.DequantizeRow(si.Type, b, si.Data); err != nil {
			t.Fatal(err)
		}
		for j := range a {
			d := float64(a[j]) - float64(b[j])
			sum += d * d
		}
		n += len(a)
	}
	return math.Sqrt(sum / float64(n))
}

// For every reference file: a file quantized here from the same F32
// source with the same mix has a weight RMSE within 5% of the reference
// file's, and run through the model it gives the same logits as the
// reference file, within the tolerance of TestQMatrixLogits of llama.cpp's.
func TestQuantizedFilesQuality(t *testing.T) {
	dir := t.TempDir()
	for _, c := range referenceCases(t) {
		src := open(t, testdata.Path(t, "models", c.source+".gguf"))
		ref := open(t, testdata.Path(t, "models", c.name+".gguf"))
		path := filepath.Join(dir, c.name+".gguf")
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := Quantize(src, out, c.opts); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		got := open(t, path)
		ours, theirs := weightRMSE(t, got, src), weightRMSE(t, ref, src)
		ratio := ours / theirs
		if theirs == 0 {
			ratio = 1
			if ours != 0 {
				ratio = math.Inf(1)
			}
		}
		rr := testdata.LoadReference(t, c.name+".ids")
		p, g := reftest.Logits(t, path, rr)
		d := reftest.Compare(append(p, g...), append(rr.Logits, rr.GenLogits...))
		t.Logf("%-26s %-7s weight RMSE %.4g, reference %.4g, ratio %.4f; logits vs llama.cpp's: %s",
			c.name, c.opts.FileType, ours, theirs, ratio, d)
		if ratio > 1.05 || math.IsNaN(ratio) {
			t.Errorf("%s: weight RMSE %.4g is %.3f× the reference file's", c.name, ours, ratio)
		}
		if d.MeanKL > reftest.MaxMeanKL || math.IsNaN(d.MeanKL) || d.Top1Rate() < reftest.MinTop1 {
			t.Errorf("%s: logits vs llama.cpp's: %s (limits: mean KL %.0e, top-1 %.0f%%)", c.name, d, reftest.MaxMeanKL, 100*reftest.MinTop1)
		}
	}
}
