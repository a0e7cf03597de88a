//go:build purego || !amd64

package compute

// No tile kernels: every matrix product takes the generic path.

var (
	quantizeRowQ8 = quantizeRowQ8Generic
	roundF16Row   = roundF16RowGeneric
)

// gemm_other declares nothing else: tileKernels stays empty.
