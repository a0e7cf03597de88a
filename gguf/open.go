package gguf

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// Open memory-maps the GGUF file at path and parses it. Tensor data are
// slices into the mapping; call Close when they are no longer used.
//
// A split model's first part (NAME-00001-of-0000N.gguf, split.count N, as
// llama.cpp's gguf-split writes) opens all N parts: the File has the first
// part's metadata and the tensors of every part, and Size their total.
func Open(path string) (*File, error) {
	f, err := openOne(path)
	if err != nil {
		return nil, err
	}
	count, _ := f.GetInt("split.count", 1)
	if count <= 1 {
		return f, nil
	}
	if err := f.openParts(path, int(count)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

var splitName = regexp.MustCompile(`-00001-of-(\d{5})\.gguf$`)

// openParts opens parts 2…count of the split model whose first part is
// path and adds their tensors.
func (f *File) openParts(path string, count int) error {
	m := splitName.FindStringSubmatchIndex(path)
	if m == nil {
		return fmt.Errorf("gguf: %s has split.count %d but is not named NAME-00001-of-%05d.gguf, so its other parts cannot be found", path, count, count)
	}
	if n, _ := strconv.Atoi(path[m[2]:m[3]]); n != count {
		return fmt.Errorf("gguf: %s: split.count %d disagrees with the file name", path, count)
	}
	if count > 9999 {
		return fmt.Errorf("gguf: %s: split.count %d is too large", path, count)
	}
	releases := []func() error{f.release}
	f.release = func() error {
		var first error
		for _, r := range releases {
			if r != nil {
				if err := r(); err != nil && first == nil {
					first = err
				}
			}
		}
		return first
	}
	for i := 2; i <= count; i++ {
		pp := fmt.Sprintf("%s-%05d-of-%05d.gguf", path[:m[0]], i, count)
		part, err := openOne(pp)
		if err != nil {
			return fmt.Errorf("gguf: part %d of split model %s: %w", i, path, err)
		}
		releases = append(releases, part.release)
		part.release = nil
		if no, _ := part.GetInt("split.no", -1); no != int64(i-1) {
			return fmt.Errorf("gguf: %s: split.no is %d, want %d", pp, no, i-1)
		}
		f.mapped = f.mapped && part.mapped
		f.Size += part.Size
		for _, t := range part.Tensors {
			if _, dup := f.tensorIndex[t.Name]; dup {
				return fmt.Errorf("gguf: %s: tensor %q is also in an earlier part", pp, t.Name)
			}
			f.tensorIndex[t.Name] = len(f.Tensors)
			f.Tensors = append(f.Tensors, t)
		}
	}
	if want, err := f.GetInt("split.tensors.count", int64(len(f.Tensors))); err == nil && want != int64(len(f.Tensors)) {
		return fmt.Errorf("gguf: split model %s: its %d parts hold %d tensors, split.tensors.count says %d", path, count, len(f.Tensors), want)
	}
	return nil
}

func openOne(path string) (*File, error) {
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
