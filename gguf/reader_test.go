package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

func TestReadAllTestdata(t *testing.T) {
	dir := testdata.Dir(t)
	var files []string
	for _, sub := range []string{"models", "vocab"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*.gguf"))
		files = append(files, m...)
	}
	if len(files) < 40 {
		t.Fatalf("found only %d gguf files under %s", len(files), dir)
	}
	for _, path := range files {
		f, err := Open(path)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		if _, ok := f.Get("general.architecture"); !ok {
			t.Errorf("%s: no general.architecture", filepath.Base(path))
		}
		// Models and vocab files carry a tokenizer; adapters do not.
		typ, _ := f.GetString("general.type", "model")
		if _, ok := f.Get("tokenizer.ggml.tokens"); !ok && typ != "adapter" {
			t.Errorf("%s: no tokenizer.ggml.tokens", filepath.Base(path))
		}
		f.Close()
	}
}

func TestStories260KLayout(t *testing.T) {
	f, err := Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 {
		t.Errorf("version %d", f.Version)
	}
	arch, _ := f.GetString("general.architecture", "")
	if arch != "llama" {
		t.Errorf("architecture %q", arch)
	}
	if n, _ := f.GetInt("llama.embedding_length", 0); n != 64 {
		t.Errorf("embedding_length %d", n)
	}
	tok, ok := f.Get("tokenizer.ggml.tokens")
	if ss, _ := tok.Strings(); !ok || len(ss) != 512 || ss[1] != "<s>" || ss[3] != "<0x00>" {
		t.Errorf("tokens: %d entries, %q", len(ss), ss[:4])
	}
	if len(f.Tensors) != 48 {
		t.Errorf("%d tensors, MODELS.md says 48", len(f.Tensors))
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || emb.Type != TypeF32 || emb.Dims[0] != 64 || emb.Dims[1] != 512 || len(emb.Data) != 64*512*4 {
		t.Fatalf("token_embd.weight: %+v", emb)
	}
	down, _ := f.Tensor("blk.0.ffn_down.weight")
	if down.Dims[0] != 172 || down.Dims[1] != 64 {
		t.Errorf("ffn_down dims %v", down.Dims)
	}
}

// The format/ cases behave as FORMAT.md describes.
func TestFormatCases(t *testing.T) {
	dir := testdata.Path(t, "format")
	cases := []struct {
		file    string
		errHas  []string // empty: must read
		version uint32
	}{
		{"ggml-vocab-llama.v1-20230818.gguf", nil, 1},
		{"ggml-vocab-llama.v1-20230819.gguf", nil, 1},
		{"ggml-vocab-falcon.v2-20230919.gguf", nil, 2},
		{"tinyllamas-stories-260k-f32.crabml.gguf", nil, 1},
		{"llama-2-tiny-random.gguf", nil, 0},
		{"genworker-gguf-v2-f32.gguf", nil, 2},
		{"genworker-gguf-v3-q4-0.gguf", nil, 3},
		{"genworker-gguf-unknown-type.gguf", []string{"unknown type 43", "tensor"}, 0},
		{"genworker-gguf-unsupported-version.gguf", []string{"version 4"}, 0},
		{"test_writer.nonstandard-OBJ-type13.gguf", []string{"unknown value type 13", "key"}, 0},
		{"tinyllamas-stories-260k-q8_0.llama4j.gguf", []string{"blk.0.ffn_down.weight", "not a multiple"}, 0},
	}
	for _, c := range cases {
		f, err := Open(filepath.Join(dir, c.file))
		if len(c.errHas) == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.file, err)
				continue
			}
			if c.version != 0 && f.Version != c.version {
				t.Errorf("%s: version %d, want %d", c.file, f.Version, c.version)
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
			t.Errorf("%s: read without error", c.file)
			continue
		}
		for _, s := range c.errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not mention %q", c.file, err, s)
			}
		}
	}
}

// The v1 stories file carries the same weights as the v3 one.
func TestVersion1Tensors(t *testing.T) {
	v1, err := Open(testdata.Path(t, "format", "tinyllamas-stories-260k-f32.crabml.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	if len(v1.Tensors) == 0 {
		t.Fatal("no tensors")
	}
	tok, _ := v1.Get("tokenizer.ggml.tokens")
	if ss, _ := tok.Strings(); len(ss) != 512 || ss[1] != "<s>" {
		t.Errorf("v1 tokens: %d", len(ss))
	}
	for _, ti := range v1.Tensors {
		if uint64(len(ti.Data)) != ti.Size {
			t.Errorf("%s: %d bytes", ti.Name, len(ti.Data))
		}
	}
}

func TestTruncatedFilesFail(t *testing.T) {
	b, err := os.ReadFile(testdata.Path(t, "models", "stories260K-Q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// Every cut inside the header and tensor infos, and a cut in the
	// last tensor, fails with a format error.
	var end uint64
	for _, ti := range f.Tensors {
		end = max(end, f.DataOffset+ti.Offset+ti.Size)
	}
	cuts := []int{0, 3, 4, 7, 8, 15, 16, 23, 24, 100, 1000, int(f.DataOffset) - 1, int(end) - 1}
	for i := 24; i < int(f.DataOffset); i += 97 {
		cuts = append(cuts, i)
	}
	for _, n := range cuts {
		_, err := Parse(b[:n])
		if err == nil {
			t.Errorf("cut at %d: no error", n)
			continue
		}
		if n >= 4 && !errors.Is(err, ErrFormat) {
			t.Errorf("cut at %d: %v is not a format error", n, err)
		}
	}
}

func TestHostileCounts(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("GGUF")
	buf.Write([]byte{3, 0, 0, 0})
	buf.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0})                         // tensors
	buf.Write([]byte{1, 0, 0, 0, 0, 0, 0, 0})                         // one kv
	buf.Write([]byte{3, 0, 0, 0, 0, 0, 0, 0, 'a', '.', 'b'})          // key "a.b"
	buf.Write([]byte{9, 0, 0, 0, 8, 0, 0, 0})                         // array of strings
	buf.Write([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f}) // huge count
	_, err := Parse(buf.Bytes())
	if err == nil || !strings.Contains(err.Error(), `"a.b"`) {
		t.Fatalf("huge array: %v", err)
	}
}
