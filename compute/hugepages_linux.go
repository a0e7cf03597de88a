package compute

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks for transparent huge pages on the whole 2 MiB pages
// inside b (freshly allocated, not yet touched): repacked weights are
// streamed once per token, and huge pages spare the TLB misses of 4 KiB
// pages. A no-op where the kernel does not offer them.
func adviseHugePages(b []byte) {
	if len(b) < 4<<20 {
		return
	}
	const hp = 2 << 20
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + hp - 1) &^ (hp - 1)
	hi := (start + uintptr(len(b))) &^ (hp - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_HUGEPAGE)
}
