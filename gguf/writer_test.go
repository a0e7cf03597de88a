package gguf

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// copyFile writes f's metadata and tensors through a Writer.
func copyFile(t *testing.T, f *File) []byte {
	t.Helper()
	w := NewWriter()
	w.Alignment = f.Alignment
	for _, kv := range f.KV {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, ti.Data); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sameFile(t *testing.T, name string, a, b *File) {
	t.Helper()
	if len(a.KV) != len(b.KV) {
		t.Fatalf("%s: %d keys read back, %d written", name, len(b.KV), len(a.KV))
	}
	for i := range a.KV {
		if a.KV[i].Key != b.KV[i].Key || a.KV[i].Value.Type != b.KV[i].Value.Type || a.KV[i].Value.Elem != b.KV[i].Value.Elem ||
			!reflect.DeepEqual(a.KV[i].Value.Any(), b.KV[i].Value.Any()) {
			t.Errorf("%s: key %q differs after the round trip", name, a.KV[i].Key)
		}
	}
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%s: %d tensors read back, %d written", name, len(b.Tensors), len(a.Tensors))
	}
	for i := range a.Tensors {
		x, y := a.Tensors[i], b.Tensors[i]
		if x.Name != y.Name || x.Type != y.Type || !reflect.DeepEqual(x.Dims, y.Dims) || !bytes.Equal(x.Data, y.Data) {
			t.Errorf("%s: tensor %q differs after the round trip", name, x.Name)
		}
	}
}

func TestWriterRoundTrip(t *testing.T) {
	paths, _ := filepath.Glob(testdata.Path(t, "models", "*.gguf"))
	paths = append(paths, testdata.Path(t, "vocab", "ggml-vocab-llama-spm.gguf"), testdata.Path(t, "format", "ggml-vocab-falcon.v2-20230919.gguf"),
		testdata.Path(t, "format", "ggml-vocab-llama.v1-20230819.gguf"))
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		out := copyFile(t, f)
		g, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: reading the written copy: %v", filepath.Base(p), err)
		}
		if g.Version != 3 {
			t.Errorf("written version %d", g.Version)
		}
		sameFile(t, filepath.Base(p), f, g)
		// Writing the copy again gives the same bytes.
		if again := copyFile(t, g); !bytes.Equal(again, out) && f.Version >= 2 {
			t.Errorf("%s: second write differs", filepath.Base(p))
		}
		f.Close()
	}
}

func TestWriterAllValueTypes(t *testing.T) {
	w := NewWriter()
	w.Alignment = 64
	nested, _ := NewValue([]Value{mustValue(t, []int32{1, 2}), mustValue(t, []string{"a", ""}), mustValue(t, []Value{mustValue(t, []float64{0.5})})})
	vals := map[string]any{
		"u8": uint8(7), "i8": int8(-7), "u16": uint16(700), "i16": int16(-700), "u32": uint32(70000), "i32": int32(-70000),
		"f32": float32(1.5), "bool": true, "str": "héllo", "u64": uint64(1 << 40), "i64": int64(-1 << 40), "f64": 2.25,
		"a.u8": []uint8{1, 2}, "a.i8": []int8{-1}, "a.u16": []uint16{3}, "a.i16": []int16{-3}, "a.u32": []uint32{4}, "a.i32": []int32{-4},
		"a.f32": []float32{0.25}, "a.bool": []bool{true, false}, "a.str": []string{"x", "yz"}, "a.u64": []uint64{5}, "a.i64": []int64{-5},
		"a.f64": []float64{0.125}, "nested": nested, "empty": []string{},
	}
	keys := []string{}
	for k, v := range vals {
		keys = append(keys, k)
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := w.AddTensor("t0", TypeF32, []uint64{2}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("t1", TypeI8, []uint64{3, 1}, data[:3]); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("bad", TypeQ8_0, []uint64{3}, data[:3]); err == nil {
		t.Error("a Q8_0 row of 3 was accepted")
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 {
		t.Errorf("alignment %d", f.Alignment)
	}
	for _, k := range keys {
		v, ok := f.Get(k)
		want, _ := NewValue(vals[k])
		if !ok || v.Type != want.Type || v.Elem != want.Elem || !reflect.DeepEqual(v.Any(), want.Any()) {
			t.Errorf("%s: read %v (%s), wrote %v", k, v.Any(), v.Type, want.Any())
		}
	}
	t1, _ := f.Tensor("t1")
	if !bytes.Equal(t1.Data, data[:3]) || t1.Offset%64 != 0 {
		t.Errorf("t1 = %v at %d", t1.Data, t1.Offset)
	}
}

func mustValue(t *testing.T, x any) Value {
	v, err := NewValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
