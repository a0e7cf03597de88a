package gguf

import (
	"io"
	"os"
)

// readFile reads the whole file into memory: the fallback where mapping is
// unavailable.
func readFile(f *os.File, size int) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
