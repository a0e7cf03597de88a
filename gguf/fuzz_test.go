package gguf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// FuzzRead checks that no input makes the reader panic, hang or allocate
// without bound. The seeds are the small files of the shared testdata.
func FuzzRead(f *testing.F) {
	if dir, err := findSeeds(); err == nil {
		for _, p := range dir {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// Small files whole; of the others the first 64 KiB (the
			// header, metadata and tensor infos), which keeps each run fast.
			if len(b) > 256<<10 {
				b = b[:64<<10]
			}
			f.Add(b)
		}
	}
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must be consistent.
		for _, ti := range g.Tensors {
			if uint64(len(ti.Data)) != ti.Size {
				t.Fatalf("tensor %q: %d bytes, size %d", ti.Name, len(ti.Data), ti.Size)
			}
		}
	})
}

func findSeeds() ([]string, error) {
	dir, err := testdata.Find()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sub := range []string{"format", "models"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*.gguf"))
		out = append(out, m...)
	}
	return out, nil
}
