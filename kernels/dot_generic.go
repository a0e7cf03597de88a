//go:build purego || !amd64

package kernels

// Dot returns Σ a[i]·b[i] summed in eight lanes, like SIMD code.
func Dot(a, b []float32) float32 { return dotGeneric(a, b) }

// AXPY adds a·x to y.
func AXPY(y []float32, a float32, x []float32) { axpyGeneric(y, a, x[:len(y)]) }
