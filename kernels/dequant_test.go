package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// QuantizeQ8 then DequantQ8/DequantQ8T give exactly what quant's Q8_0
// type gives for the same values (its Quantize and Dequantize, an
// independent layout with the scale inside each 34-byte block), on every
// kernel path.
func TestQ8CacheRows(t *testing.T) {
	tr, err := quant.Lookup(gguf.TypeQ8_0)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	// A transposed key block: 96 rows (3 groups of 32) × 64 positions.
	// Position j's key is column j: quantize it as a row of 96 values.
	const rows = 96
	keys := make([][]float32, AttnBlock)
	q := make([]int8, rows*AttnBlock)
	s := make([]uint16, rows/32*AttnBlock)
	want := make([]float32, rows*AttnBlock)
	for j := range keys {
		keys[j] = make([]float32, rows)
		for d := range keys[j] {
			keys[j][d] = float32(r.NormFloat64()) * float32(1+j%7)
		}
		if j == 5 {
			clear(keys[j]) // an all-zero key: scale 0
		}
		var kq [rows]int8
		var ks [rows / 32]uint16
		QuantizeQ8(kq[:], ks[:], keys[j])
		for d := range rows {
			q[d*AttnBlock+j] = kq[d]
		}
		for g := range ks {
			s[g*AttnBlock+j] = ks[g]
		}
		blk := make([]byte, tr.RowBytes(rows))
		tr.Quantize(blk, keys[j])
		deq := make([]float32, rows)
		tr.Dequantize(deq, blk)
		for d := range rows {
			want[d*AttnBlock+j] = deq[d]
		}
	}
	// A value row: 128 values in 4 blocks.
	v := make([]float32, 128)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	vq, vs := make([]int8, 128), make([]uint16, 4)
	QuantizeQ8(vq, vs, v)
	blk := make([]byte, tr.RowBytes(128))
	tr.Quantize(blk, v)
	wantV := make([]float32, 128)
	tr.Dequantize(wantV, blk)
	attnPaths(func(path string) {
		got := make([]float32, rows*AttnBlock)
		DequantQ8T(got, q, s, rows)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: key element %d (dim %d, position %d) = %g, Q8_0 gives %g", path, i, i/AttnBlock, i%AttnBlock, got[i], want[i])
			}
		}
		gotV := make([]float32, 128)
		DequantQ8(gotV, vq, vs)
		for i := range gotV {
			if gotV[i] != wantV[i] {
				t.Fatalf("%s: value %d = %g, Q8_0 gives %g", path, i, gotV[i], wantV[i])
			}
		}
	})
}

// F16Rows widens every half (normal, subnormal, zero, infinite; a NaN
// stays a NaN) as the scalar conversion does, on each kernel path.
func TestF16Rows(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	attnPaths(func(path string) {
		for _, sh := range [][3]int{{1, 4096, 4096}, {64, 64, 256}, {5, 48, 100}, {3, 20, 20}, {7, 128, 512}} {
			rows, cols, stride := sh[0], sh[1], sh[2]
			src := make([]uint16, (rows-1)*stride+cols)
			for i := range src {
				src[i] = uint16(r.Uint32())
			}
			dst := make([]float32, rows*cols+1)
			dst[rows*cols] = 42 // one past the end stays
			F16Rows(dst[:rows*cols], src, rows, cols, stride)
			for i := range rows * cols {
				want := quant.FP16ToFP32(src[i/cols*stride+i%cols])
				got := dst[i]
				if math.IsNaN(float64(want)) && math.IsNaN(float64(got)) {
					continue
				}
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%s %v: [%d] = %g, want %g", path, sh, i, got, want)
				}
			}
			if dst[rows*cols] != 42 {
				t.Fatalf("%s %v: wrote past the end", path, sh)
			}
		}
	})
}
