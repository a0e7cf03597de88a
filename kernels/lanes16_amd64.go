//go:build !purego

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"
)

// The 16-lane dot products in AVX-512 (one Z accumulator) or in AVX2 with
// F16C (two Y accumulators, lanes 0–7 and 8–15: the same sums).
var (
	useLanes16AVX512 = cpu.X86.HasAVX512F && os.Getenv("SHIMMER_NOSIMD") == ""
	useLanes16AVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C && os.Getenv("SHIMMER_NOSIMD") == ""
)

func dotF16Lanes16(a, x []uint16) float32 {
	n := len(a) / 16
	switch {
	case n > 0 && useLanes16AVX512:
		return dotF16Lanes16AVX512(&a[0], &x[0], n)
	case n > 0 && useLanes16AVX2:
		return dotF16Lanes16AVX2(&a[0], &x[0], n)
	}
	return dotF16Lanes16Generic(a, x)
}

func dotF32Lanes16(a, x []float32) float32 {
	n := len(a) / 16
	switch {
	case n > 0 && useLanes16AVX512:
		return dotF32Lanes16AVX512(&a[0], &x[0], n)
	case n > 0 && useLanes16AVX2:
		return dotF32Lanes16AVX2(&a[0], &x[0], n)
	}
	return dotF32Lanes16Generic(a, x)
}

//go:noescape
func dotF16Lanes16AVX512(a, x *uint16, n int) float32

//go:noescape
func dotF16Lanes16AVX2(a, x *uint16, n int) float32

//go:noescape
func dotF32Lanes16AVX512(a, x *float32, n int) float32

//go:noescape
func dotF32Lanes16AVX2(a, x *float32, n int) float32
