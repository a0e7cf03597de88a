//go:build !amd64 || purego

package compute

func readSum(b []byte) uint64 { return readSumGeneric(b) }

func readSum2(a, b []byte) uint64 { return readSumGeneric(a) ^ readSumGeneric(b) }
