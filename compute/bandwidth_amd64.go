//go:build !purego

package compute

import (
	"golang.org/x/sys/cpu"
)

// readXorAVX2 XORs the 32-byte lanes of n bytes at p (n a multiple of
// 256) and folds them into a word.
//
//go:noescape
func readXorAVX2(p *byte, n int) uint64

// readXor2AVX2 does the same for n bytes at p and n bytes at q (n a
// multiple of 128), reading the two as concurrent streams.
//
//go:noescape
func readXor2AVX2(p, q *byte, n int) uint64

var haveAVX2Read = cpu.X86.HasAVX2

func readSum(b []byte) uint64 {
	n := len(b) &^ 255
	if !haveAVX2Read || n == 0 {
		return readSumGeneric(b)
	}
	return readXorAVX2(&b[0], n) ^ readSumGeneric(b[n:])
}

// readSum2 folds a and b (of equal length) as two concurrent streams.
func readSum2(a, b []byte) uint64 {
	n := len(a) &^ 127
	if !haveAVX2Read || n == 0 || len(b) != len(a) {
		return readSum(a) ^ readSum(b)
	}
	return readXor2AVX2(&a[0], &b[0], n) ^ readSumGeneric(a[n:]) ^ readSumGeneric(b[n:])
}
