//go:build unix

package gguf

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the file read-only. The mapping is shared, so pages come from
// the page cache and are not counted twice when several processes load the
// same model.
func mapFile(f *os.File, size int) ([]byte, func() error, bool, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		// Some file systems cannot be mapped; fall back to reading.
		b, release, err := readFile(f, size)
		return b, release, false, err
	}
	return b, func() error { return unix.Munmap(b) }, true, nil
}
