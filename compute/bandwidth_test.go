package compute

import (
	"math/rand/v2"
	"testing"
)

// The read kernel folds every word it reads: it equals the generic twin
// on random data, for lengths around its 256-byte step.
func TestReadSumMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 32, 224, 256, 288, 512, 4096 + 96, 1 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		var want uint64
		for i := 0; i+8 <= n; i += 8 {
			want ^= le64(b[i:])
		}
		if got := readSum(b); got != want {
			t.Errorf("n=%d: %x, want %x", n, got, want)
		}
		if got := readSumGeneric(b); got != want {
			t.Errorf("generic n=%d: %x, want %x", n, got, want)
		}
		if h := n / 2 &^ 31; h > 0 { // the generic twin folds whole 32-byte runs
			if got := readSum2(b[:h], b[h:2*h]); got != want^foldTail(b[2*h:]) {
				t.Errorf("two streams n=%d: %x, want %x", n, got, want^foldTail(b[2*h:]))
			}
		}
	}
}

// foldTail is the XOR of b's whole 8-byte words.
func foldTail(b []byte) uint64 {
	var x uint64
	for i := 0; i+8 <= len(b); i += 8 {
		x ^= le64(b[i:])
	}
	return x
}

func TestReadBandwidth(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	if bw := ReadBandwidth(p, 8<<20, 2); !(bw > 0) {
		t.Fatalf("bandwidth %g", bw)
	}
}
