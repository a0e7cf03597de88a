package compute

import "unsafe"

// HugeUint16s returns n zeroed uint16s on transparent huge pages where
// the kernel offers them (the whole 2 MiB pages inside), for small
// weights streamed every token beside the model's (LoRA adapters), whose
// 4 KiB pages would each cost a TLB miss.
func HugeUint16s(n int) []uint16 {
	if n == 0 {
		return nil
	}
	b := make([]byte, 2*n)
	adviseHugePages(b)
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
}
