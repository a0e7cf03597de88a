package gguf

import (
	"fmt"
	"os"
)

// Open memory-maps the GGUF file at path and parses it. Tensor data are
// slices into the mapping; call Close when they are no longer used.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("gguf: %s is a directory", path)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("gguf: %s: %w: file is %d bytes long", path, ErrFormat, size)
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("gguf: %s: file too large to map", path)
	}
	data, release, mapped, err := mapFile(fh, int(size))
	if err != nil {
		return nil, fmt.Errorf("gguf: map %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		release()
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	f.release = release
	f.mapped = mapped
	return f, nil
}
