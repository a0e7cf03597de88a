package compute

import "unsafe"

// hugePage is the size of an x86-64 transparent huge page.
const hugePage = 2 << 20

// hugeBytes returns n zeroed bytes for weights streamed once per token.
// From 4 MiB up the slice starts on a 2 MiB boundary and its whole 2 MiB
// pages are advised as transparent huge pages, so all but the last partial
// page are backed by huge pages (4 KiB pages each cost a TLB miss, and the
// hardware prefetcher stops at their edges). The slack before the boundary
// is never touched: fresh memory from the OS is not faulted in until
// written. Smaller slices are plain allocations.
func hugeBytes(n int) []byte {
	if n < 2*hugePage {
		return make([]byte, n)
	}
	buf := make([]byte, n+hugePage)
	off := (hugePage - int(uintptr(unsafe.Pointer(&buf[0])))%hugePage) % hugePage
	b := buf[off : off+n : off+n]
	adviseHugePages(b)
	return b
}

// HugeUint16s returns n zeroed uint16s on transparent huge pages where
// the kernel offers them (see hugeBytes), for small weights streamed every
// token beside the model's (LoRA adapters).
func HugeUint16s(n int) []uint16 {
	if n == 0 {
		return nil
	}
	b := hugeBytes(2 * n)
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
}
