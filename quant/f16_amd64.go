//go:build !purego

package quant

import (
	"os"

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
