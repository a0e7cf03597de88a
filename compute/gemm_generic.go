//go:build purego || !amd64

package compute

// No tile kernels: every matrix product takes the generic path.

var (
	quantizeRowQ8 = quantizeRowQ8Generic
	roundF16Row   = roundF16RowGeneric
	dotF32        = dotF32Lanes16
)

// gemm_other declares nothing else: tileKernels stays empty.
