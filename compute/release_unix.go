//go:build unix

package compute

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages tells the kernel that the whole pages inside b (a read-only
// file mapping) are not needed for now: they leave the process's resident
// set and are read back from the page cache if touched again. Used once a
// tensor has been repacked, so resident memory stays near the file size.
func releasePages(b []byte) {
	if len(b) == 0 {
		return
	}
	ps := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + ps - 1) &^ (ps - 1)
	hi := (start + uintptr(len(b))) &^ (ps - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_DONTNEED)
}

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
