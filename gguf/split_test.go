package gguf_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// writeSplit writes src as n parts laid out as llama.cpp's gguf-split
// writes them: the metadata in the first part with split.no, split.count
// and split.tensors.count in every part, the tensors shared out in order.
func writeSplit(t *testing.T, src *gguf.File, dir, base string, n int) string {
	t.Helper()
	per := (len(src.Tensors) + n - 1) / n
	for i := 0; i < n; i++ {
		w := gguf.NewWriter()
		if i == 0 {
			for _, kv := range src.KV {
				if err := w.Set(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
		}
		for k, v := range map[string]any{"split.no": uint16(i), "split.count": uint16(n), "split.tensors.count": int32(len(src.Tensors))} {
			if err := w.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		for j := i * per; j < min((i+1)*per, len(src.Tensors)); j++ {
			tt := src.Tensors[j]
			if err := w.AddTensor(tt.Name, tt.Type, tt.Dims, tt.Data); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		if _, err := w.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%05d-of-%05d.gguf", base, i+1, n)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, fmt.Sprintf("%s-00001-of-%05d.gguf", base, n))
}

// TestOpenSplit opens a model split in three and finds every tensor of the
// whole file, byte for byte; a missing part is named.
func TestOpenSplit(t *testing.T) {
	whole, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	dir := t.TempDir()
	first := writeSplit(t, whole, dir, "stories", 3)
	f, err := gguf.Open(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(whole.Tensors) {
		t.Fatalf("split model has %d tensors, whole %d", len(f.Tensors), len(whole.Tensors))
	}
	for _, wt := range whole.Tensors {
		st, ok := f.Tensor(wt.Name)
		if !ok || !bytes.Equal(st.Data, wt.Data) || fmt.Sprint(st.Dims) != fmt.Sprint(wt.Dims) || st.Type != wt.Type {
			t.Fatalf("tensor %s differs in the split model", wt.Name)
		}
	}
	if a, _ := f.GetString("general.architecture", ""); a != "llama" {
		t.Fatalf("architecture %q", a)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "stories-00003-of-00003.gguf"))
	if _, err := gguf.Open(first); err == nil || !strings.Contains(err.Error(), "part 3 of split model") {
		t.Fatalf("missing part: %v", err)
	}
}
