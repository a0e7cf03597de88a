//go:build !unix

package gguf

import "os"

func mapFile(f *os.File, size int) ([]byte, func() error, bool, error) {
	b, release, err := readFile(f, size)
	return b, release, false, err
}
