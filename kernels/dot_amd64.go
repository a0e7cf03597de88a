//go:build !purego

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"
)

//go:noescape
func dotAVX(a, b *float32, n int) float32

//go:noescape
func axpyAVX(y *float32, a float32, x *float32, n int)

var useAVX = cpu.X86.HasAVX2 && os.Getenv("SHIMMER_NOSIMD") == ""

// Dot returns Σ a[i]·b[i] summed in eight lanes, like SIMD code.
func Dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	if useAVX && n > 0 {
		return dotAVX(&a[0], &b[0], n)
	}
	return dotGeneric(a, b)
}

// AXPY adds a·x to y.
func AXPY(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	if useAVX && len(y) > 0 {
		axpyAVX(&y[0], a, &x[0], len(y))
		return
	}
	axpyGeneric(y, a, x)
}
