package kernels

import (
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// q8_0 is the Q8_0 type whose rounding the cache uses.
var q8_0 = func() *quant.Traits {
	t, err := quant.Lookup(gguf.TypeQ8_0)
	if err != nil {
		panic(err)
	}
	return t
}()

// Q8_0 KV cache rows: int8 values q with one f16 scale per 32 values,
// stored apart from the values (model.KVCache). A value is scale·q, the
// product rounded once to float32, as ggml's Q8_0 dequantization.

// DequantQ8T dequantizes rows rows of 64 keys laid out as the cache's
// transposed key blocks: value j of row r is q[r·64+j] with scale
// s[(r/32)·64+j]. rows is a multiple of 32.
func DequantQ8T(dst []float32, q []int8, s []uint16, rows int) {
	if rows <= 0 {
		return
	}
	_, _, _ = dst[rows*AttnBlock-1], q[rows*AttnBlock-1], s[(rows/32)*AttnBlock-1]
	dequantQ8T(dst, q, s, rows)
}

// DequantQ8 dequantizes len(dst) values, a multiple of 32: dst[i] =
// s[i/32]·q[i].
func DequantQ8(dst []float32, q []int8, s []uint16) {
	if len(dst) == 0 {
		return
	}
	_, _ = q[len(dst)-1], s[len(dst)/32-1]
	dequantQ8(dst, q, s)
}

func dequantQ8TGeneric(dst []float32, q []int8, s []uint16, rows int) {
	var sc [AttnBlock]float32
	for r := 0; r < rows; r++ {
		if r%32 == 0 {
			quant.FP16ToFP32Row(sc[:], s[(r/32)*AttnBlock:(r/32+1)*AttnBlock])
		}
		d, x := dst[r*AttnBlock:(r+1)*AttnBlock], q[r*AttnBlock:(r+1)*AttnBlock]
		for j := range d {
			d[j] = sc[j] * float32(x[j])
		}
	}
}

func dequantQ8Generic(dst []float32, q []int8, s []uint16) {
	for b := 0; b < len(dst)/32; b++ {
		sc := quant.FP16ToFP32(s[b])
		d, x := dst[32*b:32*b+32], q[32*b:32*b+32]
		for j := range d {
			d[j] = sc * float32(x[j])
		}
	}
}

// QuantizeQ8 rounds x (a multiple of 32 values) to Q8_0 as quant's Q8_0
// type does (d = max|x|/127 stored in f16, q = round-half-away(x/d)),
// writing values to q and scales to s.
func QuantizeQ8(q []int8, s []uint16, x []float32) {
	var blk [34]byte
	for b := 0; b < len(x)/32; b++ {
		q8_0.Quantize(blk[:], x[32*b:32*b+32])
		s[b] = uint16(blk[0]) | uint16(blk[1])<<8
		for j := range 32 {
			q[32*b+j] = int8(blk[2+j])
		}
	}
}

// F16Rows sets dst[r·cols + c] = src[r·stride + c] as float32 for r < rows,
// c < cols: half-precision cache rows (stride apart) widened into one
// dense block, exactly (every half is a float32). It is
// quant.FP16ToFP32Row over strided rows, in one AVX-512 call where the CPU
// has it (a block's 64 value rows, of 64 halves each, would otherwise be
// 64 calls).
func F16Rows(dst []float32, src []uint16, rows, cols, stride int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_, _ = dst[rows*cols-1], src[(rows-1)*stride+cols-1]
	f16Rows(dst, src, rows, cols, stride)
}

// f16RowsGeneric widens a row at a time with quant's row conversion
// (F16C where the CPU has it).
func f16RowsGeneric(dst []float32, src []uint16, rows, cols, stride int) {
	for r := range rows {
		quant.FP16ToFP32Row(dst[r*cols:(r+1)*cols], src[r*stride:r*stride+cols])
	}
}
