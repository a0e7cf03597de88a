//go:build purego || !amd64

package kernels

func attnScores(out, q []float32, rows, qs int, kt []float32, dim int) {
	attnScoresGeneric(out, q, rows, qs, kt, dim)
}

func attnScoresF16(out, q []float32, rows, qs int, kt []uint16, dim int) {
	attnScoresF16Generic(out, q, rows, qs, kt, dim)
}

func attnPV(o []float32, rows, os int, p, v []float32, vs, n, dim int) {
	attnPVGeneric(o, rows, os, p, v, vs, n, dim)
}

func attnPVF16(o []float32, rows, os int, p []float32, v []uint16, vs, n, dim int) {
	attnPVF16Generic(o, rows, os, p, v, vs, n, dim)
}

func scaleMax64(x *[AttnBlock]float32, s float32) float32 { return scaleMax64Generic(x, s) }

func sum64(x *[AttnBlock]float32) float64 { return sum64Generic(x) }

func expRows(x []float32, m []float32, rows int) { expRowsGeneric(x, m, rows) }

func dequantQ8T(dst []float32, q []int8, s []uint16, rows int) { dequantQ8TGeneric(dst, q, s, rows) }

func dequantQ8(dst []float32, q []int8, s []uint16) { dequantQ8Generic(dst, q, s) }

func f16Rows(dst []float32, src []uint16, rows, cols, stride int) {
	f16RowsGeneric(dst, src, rows, cols, stride)
}
