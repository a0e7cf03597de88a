//go:build !purego

package compute

import (
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/shimmer-llm/shimmer/gguf"
)

// The AVX2 kernels (the fallback without AVX-512) pass the same checks,
// whatever set the CPU selected at start-up.
func TestTileKernelsAVX2(t *testing.T) {
	if !(cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C) {
		t.Skip("no AVX2")
	}
	saved := tileKernels
	defer func() { tileKernels = saved }()
	tileKernels = map[gguf.Type]*tileKernel{}
	registerAVX2()
	checkTileKernels(t)
}

// BF16's FMA kernel, which AVX-512 CPUs without BF16 dot products run,
// passes them too where the dot-product kernel replaced it.
func TestTileKernelsBF16FMA(t *testing.T) {
	if !(cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasFMA && cpu.X86.HasAVX2) {
		t.Skip("no AVX-512")
	}
	saved := tileKernels
	defer func() { tileKernels = saved }()
	tileKernels = map[gguf.Type]*tileKernel{gguf.TypeBF16: bf16FMA}
	checkTileKernels(t)
}
