package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer builds a GGUF version 3 file: metadata entries in the order they
// are set, tensors in the order they are added.
type Writer struct {
	// Alignment of tensor data; general.alignment is written when it is
	// not the default.
	Alignment uint64

	kv      []KV
	kvIndex map[string]int
	tensors []writerTensor
	names   map[string]bool
}

type writerTensor struct {
	info  TensorInfo
	write func(w io.Writer) error
}

// NewWriter returns an empty Writer with the default alignment.
func NewWriter() *Writer {
	return &Writer{Alignment: DefaultAlignment, kvIndex: map[string]int{}, names: map[string]bool{}}
}

// Set stores a metadata value (see NewValue for the accepted Go types),
// replacing an earlier value of the same key in place.
func (w *Writer) Set(key string, x any) error {
	v, err := NewValue(x)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if i, ok := w.kvIndex[key]; ok {
		w.kv[i].Value = v
		return nil
	}
	w.kvIndex[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: v})
	return nil
}

// Delete removes a metadata key if present.
func (w *Writer) Delete(key string) {
	i, ok := w.kvIndex[key]
	if !ok {
		return
	}
	w.kv = append(w.kv[:i], w.kv[i+1:]...)
	delete(w.kvIndex, key)
	for j := i; j < len(w.kv); j++ {
		w.kvIndex[w.kv[j].Key] = j
	}
}

// AddTensor adds a tensor whose bytes are data (len must match the shape).
func (w *Writer) AddTensor(name string, t Type, dims []uint64, data []byte) error {
	return w.AddTensorFunc(name, t, dims, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	}, uint64(len(data)))
}

// AddTensorFunc adds a tensor whose size bytes are produced later by write,
// so large tensors can be streamed (for example while quantizing).
func (w *Writer) AddTensorFunc(name string, t Type, dims []uint64, write func(w io.Writer) error, size uint64) error {
	if w.names[name] {
		return fmt.Errorf("gguf: duplicate tensor %q", name)
	}
	if !t.Known() {
		return fmt.Errorf("gguf: tensor %q: unknown type %d", name, uint32(t))
	}
	if len(dims) == 0 || len(dims) > maxDims {
		return fmt.Errorf("gguf: tensor %q: %d dimensions", name, len(dims))
	}
	n := uint64(1)
	for _, d := range dims {
		if d == 0 {
			return fmt.Errorf("gguf: tensor %q: zero dimension in %v", name, dims)
		}
		n *= d
	}
	if dims[0]%uint64(t.BlockSize()) != 0 {
		return fmt.Errorf("gguf: tensor %q: row length %d is not a multiple of the %s block size %d", name, dims[0], t, t.BlockSize())
	}
	want := n / uint64(t.BlockSize()) * uint64(t.BlockBytes())
	if size != want {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, shape %v of %s needs %d", name, size, dims, t, want)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{
		info:  TensorInfo{Name: name, Type: t, Dims: append([]uint64(nil), dims...), Size: size},
		write: write,
	})
	return nil
}

// WriteTo writes the file.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.Alignment == 0 || w.Alignment&(w.Alignment-1) != 0 {
		return 0, fmt.Errorf("gguf: alignment %d is not a power of two", w.Alignment)
	}
	kv := w.kv
	if w.Alignment != DefaultAlignment {
		if _, ok := w.kvIndex["general.alignment"]; !ok {
			v, _ := NewValue(uint32(w.Alignment))
			kv = append(append([]KV(nil), kv...), KV{Key: "general.alignment", Value: v})
		}
	}
	cw := &countWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := encoder{w: cw}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(kv)))
	for _, entry := range kv {
		e.str(entry.Key)
		e.u32(uint32(entry.Value.Type))
		e.value(entry.Value)
	}
	var off uint64
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = off
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
		off = alignUp(off+t.Size, w.Alignment)
	}
	if e.err != nil {
		return cw.n, e.err
	}
	e.pad(w.Alignment)
	for i := range w.tensors {
		t := &w.tensors[i]
		before := cw.n
		if err := t.write(cw); err != nil {
			return cw.n, fmt.Errorf("gguf: writing tensor %q: %w", t.info.Name, err)
		}
		if got := uint64(cw.n - before); got != t.info.Size {
			return cw.n, fmt.Errorf("gguf: tensor %q: wrote %d bytes, expected %d", t.info.Name, got, t.info.Size)
		}
		if i < len(w.tensors)-1 {
			e.pad(w.Alignment)
		}
	}
	if e.err != nil {
		return cw.n, e.err
	}
	return cw.n, cw.w.Flush()
}

type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian GGUF values, remembering the first error.
type encoder struct {
	w   *countWriter
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *encoder) pad(a uint64) {
	n := alignUp(uint64(e.w.n), a) - uint64(e.w.n)
	var zero [64]byte
	for n > 0 {
		k := min(n, uint64(len(zero)))
		e.bytes(zero[:k])
		n -= k
	}
}

func (e *encoder) value(v Value) {
	switch x := v.v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	default:
		e.array(v)
	}
}

func (e *encoder) array(v Value) {
	e.u32(uint32(v.Elem))
	e.u64(uint64(v.Len()))
	switch s := v.v.(type) {
	case []uint8:
		e.bytes(s)
	case []int8:
		for _, x := range s {
			e.u8(uint8(x))
		}
	case []bool:
		for _, x := range s {
			e.value(Value{v: x})
		}
	case []uint16:
		for _, x := range s {
			e.u16(x)
		}
	case []int16:
		for _, x := range s {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range s {
			e.u32(x)
		}
	case []int32:
		for _, x := range s {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range s {
			e.u32(math.Float32bits(x))
		}
	case []uint64:
		for _, x := range s {
			e.u64(x)
		}
	case []int64:
		for _, x := range s {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range s {
			e.u64(math.Float64bits(x))
		}
	case []string:
		for _, x := range s {
			e.str(x)
		}
	case []Value:
		for _, x := range s {
			e.array(x)
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("gguf: cannot encode %T", v.v)
		}
	}
}
