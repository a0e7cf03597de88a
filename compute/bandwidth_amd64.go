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

var haveAVX2Read = cpu.X86.HasAVX2

func readSum(b []byte) uint64 {
	n := len(b) &^ 255
	if !haveAVX2Read || n == 0 {
		return readSumGeneric(b)
	}
	return readXorAVX2(&b[0], n) ^ readSumGeneric(b[n:])
}
