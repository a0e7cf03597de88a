//go:build !amd64 || purego

package quant

// f16LanesSIMD is never selected here (f16SIMD stays false).
func f16LanesSIMD(acc *[8]float32, w, x []byte) { f16LanesGeneric(acc, w, x) }

// FP32ToFP16Row sets dst[i] = FP32ToFP16(src[i]) for every src[i].
func FP32ToFP16Row(dst []uint16, src []float32) { fp32ToFP16RowGeneric(dst[:len(src)], src) }

// FP32ToBF16Row sets dst[i] = FP32ToBF16(src[i]) for every src[i].
func FP32ToBF16Row(dst []uint16, src []float32) { fp32ToBF16RowGeneric(dst[:len(src)], src) }

// FP16ToFP32Row sets dst[i] = FP16ToFP32(src[i]) for every src[i].
func FP16ToFP32Row(dst []float32, src []uint16) { fp16ToFP32RowGeneric(dst[:len(src)], src) }

// leUint16s is not needed without the SIMD conversions (f16SIMD is false).
func leUint16s(b []byte) []uint16 { panic("quant: no SIMD F16 conversion on this build") }
