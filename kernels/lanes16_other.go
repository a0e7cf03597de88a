//go:build purego || !amd64

package kernels

func dotF16Lanes16(a, x []uint16) float32  { return dotF16Lanes16Generic(a, x) }
func dotF32Lanes16(a, x []float32) float32 { return dotF32Lanes16Generic(a, x) }
