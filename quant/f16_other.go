//go:build !amd64 || purego

package quant

// f16LanesSIMD is never selected here (f16SIMD stays false).
func f16LanesSIMD(acc *[8]float32, w, x []byte) { f16LanesGeneric(acc, w, x) }
