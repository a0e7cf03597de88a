//go:build !purego

package kernels

import "testing"

// The AVX2 kernels (for CPUs without AVX-512) give the same sums.
func TestLanes16AVX2(t *testing.T) {
	if !useLanes16AVX2 {
		t.Skip("the CPU has no AVX2/FMA/F16C")
	}
	save := useLanes16AVX512
	useLanes16AVX512 = false
	defer func() { useLanes16AVX512 = save }()
	TestLanes16(t)
}
