package compute

import (
	"testing"
	"unsafe"
)

// Large slices start on a huge-page boundary, hold exactly n zero bytes
// and cannot be grown into the slack; small ones are plain slices.
func TestHugeBytes(t *testing.T) {
	for _, n := range []int{1, 4095, 2*hugePage - 1, 2 * hugePage, 5*hugePage + 12345} {
		b := hugeBytes(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("n=%d: len %d cap %d", n, len(b), cap(b))
		}
		if n >= 2*hugePage && uintptr(unsafe.Pointer(&b[0]))%hugePage != 0 {
			t.Errorf("n=%d: starts at %#x, not on a 2 MiB boundary", n, uintptr(unsafe.Pointer(&b[0])))
		}
		for i, v := range b {
			if v != 0 {
				t.Fatalf("n=%d: byte %d is %d", n, i, v)
			}
		}
	}
	if got := HugeUint16s(3*hugePage + 1); len(got) != 3*hugePage+1 {
		t.Fatalf("HugeUint16s: len %d", len(got))
	}
}
