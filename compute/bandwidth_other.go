//go:build !amd64 || purego

package compute

func readSum(b []byte) uint64 { return readSumGeneric(b) }
