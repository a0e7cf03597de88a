//go:build !purego

package quant

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasF16C && os.Getenv("SHIMMER_NOSIMD") == "" {
		f16SIMD = true
	}
}

// f16LanesSIMD is f16LanesGeneric in AVX2/F16C instructions.
func f16LanesSIMD(acc *[8]float32, w, x []byte) {
	if n := len(w) / 16; n > 0 {
		f16LanesAsm(acc, &w[0], &x[0], n)
	}
}

// f16LanesAsm is f16LanesGeneric over n groups of 8 values.
//
//go:noescape
func f16LanesAsm(acc *[8]float32, w, x *byte, n int)

// fp32ToFP16Asm converts n groups of 8 values (VCVTPS2PH).
//
//go:noescape
func fp32ToFP16Asm(dst *uint16, src *float32, n int)

// FP32ToFP16Row sets dst[i] = FP32ToFP16(src[i]) for every src[i].
func FP32ToFP16Row(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := len(src) / 8
	if f16SIMD && n > 0 {
		fp32ToFP16Asm(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	fp32ToFP16RowGeneric(dst[8*n:], src[8*n:])
}

// fp32ToBF16Asm converts n groups of 16 values to BF16 (AVX2).
//
//go:noescape
func fp32ToBF16Asm(dst *uint16, src *float32, n int)

// FP32ToBF16Row sets dst[i] = FP32ToBF16(src[i]) for every src[i].
func FP32ToBF16Row(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := len(src) / 16
	if f16SIMD && n > 0 {
		fp32ToBF16Asm(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	fp32ToBF16RowGeneric(dst[16*n:], src[16*n:])
}

// fp16ToFP32Asm converts n groups of 8 halves (VCVTPH2PS).
//
//go:noescape
func fp16ToFP32Asm(dst *float32, src *uint16, n int)

// FP16ToFP32Row sets dst[i] = FP16ToFP32(src[i]) for every src[i].
func FP16ToFP32Row(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := len(src) / 8
	if f16SIMD && n > 0 {
		fp16ToFP32Asm(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	fp16ToFP32RowGeneric(dst[8*n:], src[8*n:])
}

// leUint16s views little-endian bytes as uint16s (amd64 is little-endian).
func leUint16s(b []byte) []uint16 { return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2) }
