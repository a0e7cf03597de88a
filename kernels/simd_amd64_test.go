//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

const haveSIMD = true

// attnPaths runs f with each attention kernel set this CPU can run:
// AVX-512, then AVX2 (as on CPUs without AVX-512).
func attnPaths(f func(path string)) {
	a, b := useAttnAVX512, useAttnAVX2
	defer func() { useAttnAVX512, useAttnAVX2 = a, b }()
	if a {
		f("avx512")
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C {
		useAttnAVX512, useAttnAVX2 = false, true
		f("avx2")
	}
}
