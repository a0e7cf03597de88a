// Package gguf reads and writes GGUF files, the model format of llama.cpp.
//
// A file is memory-mapped by Open; tensor data are slices into the mapping
// and are never copied. Every count, length and offset is checked against
// the size of the file before it is trusted, so a truncated or hostile file
// yields an error naming the key or tensor at fault, never a panic or a huge
// allocation.
package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"unsafe"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when general.alignment is absent.
const DefaultAlignment = 32

// maxArrayDepth bounds the nesting of arrays of arrays.
const maxArrayDepth = 8

// maxDims is the largest number of dimensions a ggml tensor can have.
const maxDims = 4

// ErrFormat is wrapped by every error that reports a malformed file.
var ErrFormat = errors.New("invalid GGUF file")

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor and holds its data.
type TensorInfo struct {
	Name string
	Type Type
	// Dims lists the dimensions innermost first, as ggml's ne: Dims[0] is the
	// row length, Dims[1] the number of rows of a matrix.
	Dims []uint64
	// Offset is the position of the data relative to the data section.
	Offset uint64
	// Size is the size of the data in bytes.
	Size uint64
	// Data is the tensor's bytes: a slice into the file mapping.
	Data []byte
}

// Elements returns the number of elements in the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape returns Dims as ints.
func (t *TensorInfo) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[i] = int(d)
	}
	return s
}

// File is a parsed GGUF file.
type File struct {
	// Version is the GGUF version (1, 2 or 3).
	Version uint32
	// Alignment is the data alignment (general.alignment or 32).
	Alignment uint64
	// KV lists the metadata in file order.
	KV []KV
	// Tensors lists the tensor infos in file order.
	Tensors []TensorInfo
	// DataOffset is the file offset of the data section.
	DataOffset uint64
	// Size is the size of the file in bytes.
	Size uint64

	kvIndex     map[string]int
	tensorIndex map[string]int
	release     func() error
	mapped      bool
}

// Get returns the metadata value stored under key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Mapped reports whether tensor data are a read-only file mapping (rather
// than memory read from the file): then pages that are not needed can be
// dropped from memory and are read back from the file when touched.
func (f *File) Mapped() bool { return f.mapped }

// Close releases the file mapping. Tensor data must not be used afterwards.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	r := f.release
	f.release = nil
	return r()
}

// Parse parses a GGUF file held in memory. Tensor data alias data.
func Parse(data []byte) (*File, error) {
	p := parser{b: data}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	return f, nil
}

type parser struct {
	b       []byte
	off     uint64
	version uint32
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("gguf: %w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

func (p *parser) remaining() uint64 { return uint64(len(p.b)) - p.off }

func (p *parser) need(n uint64, what string) error {
	if n > p.remaining() {
		return formatErr("truncated at byte %d reading %s (%d bytes needed, %d left)", p.off, what, n, p.remaining())
	}
	return nil
}

func (p *parser) u32(what string) (uint32, error) {
	if err := p.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(p.b[p.off:])
	p.off += 4
	return v, nil
}

func (p *parser) u64(what string) (uint64, error) {
	if err := p.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(p.b[p.off:])
	p.off += 8
	return v, nil
}

// count reads a count or length: 32 bits in version 1, 64 bits after.
func (p *parser) count(what string) (uint64, error) {
	if p.version == 1 {
		v, err := p.u32(what)
		return uint64(v), err
	}
	return p.u64(what)
}

func (p *parser) str(what string) (string, error) {
	n, err := p.count(what + " length")
	if err != nil {
		return "", err
	}
	if err := p.need(n, what); err != nil {
		return "", err
	}
	s := string(p.b[p.off : p.off+n])
	p.off += n
	return s, nil
}

func (p *parser) file() (*File, error) {
	if err := p.need(4, "magic"); err != nil {
		return nil, err
	}
	if string(p.b[:4]) != Magic {
		return nil, formatErr("bad magic %q (not a GGUF file)", p.b[:4])
	}
	p.off = 4
	v, err := p.u32("version")
	if err != nil {
		return nil, err
	}
	if v < 1 || v > 3 {
		return nil, fmt.Errorf("gguf: unsupported version %d (supported: 1, 2, 3)", v)
	}
	p.version = v
	nTensors, err := p.count("tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := p.count("metadata count")
	if err != nil {
		return nil, err
	}
	// Every entry takes some bytes; bound the counts by what is left before
	// allocating anything proportional to them.
	const minKV, minTensor = 8 + 4 + 1, 8 + 4 + 8 + 4 + 8
	if nKV > p.remaining()/minKV {
		return nil, formatErr("metadata count %d does not fit in the file", nKV)
	}
	if nTensors > p.remaining()/minTensor {
		return nil, formatErr("tensor count %d does not fit in the file", nTensors)
	}
	f := &File{
		Version:     v,
		Alignment:   DefaultAlignment,
		Size:        uint64(len(p.b)),
		KV:          make([]KV, 0, nKV),
		kvIndex:     make(map[string]int, nKV),
		Tensors:     make([]TensorInfo, 0, nTensors),
		tensorIndex: make(map[string]int, nTensors),
	}
	for i := uint64(0); i < nKV; i++ {
		key, err := p.str(fmt.Sprintf("key of metadata entry %d", i))
		if err != nil {
			return nil, err
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, formatErr("duplicate metadata key %q", key)
		}
		t, err := p.u32(fmt.Sprintf("type of %q", key))
		if err != nil {
			return nil, err
		}
		val, err := p.value(ValueType(t), key, 0)
		if err != nil {
			return nil, err
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: val})
	}
	if a, ok := f.Get("general.alignment"); ok {
		u, isU := a.Uint()
		if a.Type != ValueUint32 && !isU {
			return nil, formatErr("general.alignment: %s value %v is not an unsigned integer", a.Type, a.v)
		}
		if u == 0 || u&(u-1) != 0 || u > 1<<30 {
			return nil, formatErr("general.alignment: %d is not a power of two", u)
		}
		f.Alignment = u
	}
	for i := uint64(0); i < nTensors; i++ {
		ti, err := p.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.tensorIndex[ti.Name]; dup {
			return nil, formatErr("duplicate tensor name %q", ti.Name)
		}
		f.tensorIndex[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	// The data section starts at the next multiple of the alignment.
	data := alignUp(p.off, f.Alignment)
	if nTensors > 0 && data > uint64(len(p.b)) {
		return nil, formatErr("data section starts at %d, past the end of the file (%d bytes)", data, len(p.b))
	}
	f.DataOffset = data
	if err := f.placeTensors(p.b); err != nil {
		return nil, err
	}
	return f, nil
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) / a * a }

func (p *parser) tensorInfo(i uint64) (TensorInfo, error) {
	name, err := p.str(fmt.Sprintf("name of tensor %d", i))
	if err != nil {
		return TensorInfo{}, err
	}
	nd, err := p.u32(fmt.Sprintf("tensor %q dimension count", name))
	if err != nil {
		return TensorInfo{}, err
	}
	if nd == 0 || nd > maxDims {
		return TensorInfo{}, formatErr("tensor %q: %d dimensions (1 to %d allowed)", name, nd, maxDims)
	}
	ti := TensorInfo{Name: name, Dims: make([]uint64, nd)}
	n := uint64(1)
	for d := range ti.Dims {
		var v uint64
		if p.version == 1 {
			v32, err := p.u32(fmt.Sprintf("tensor %q dimension %d", name, d))
			if err != nil {
				return TensorInfo{}, err
			}
			v = uint64(v32)
		} else if v, err = p.u64(fmt.Sprintf("tensor %q dimension %d", name, d)); err != nil {
			return TensorInfo{}, err
		}
		if v == 0 || v > math.MaxInt64/n {
			return TensorInfo{}, formatErr("tensor %q: dimension %d is %d", name, d, v)
		}
		n *= v
		ti.Dims[d] = v
	}
	t, err := p.u32(fmt.Sprintf("tensor %q type", name))
	if err != nil {
		return TensorInfo{}, err
	}
	ti.Type = Type(t)
	if !ti.Type.Known() {
		return TensorInfo{}, formatErr("tensor %q has unknown type %d", name, t)
	}
	bs := uint64(ti.Type.BlockSize())
	if ti.Dims[0]%bs != 0 {
		return TensorInfo{}, formatErr("tensor %q: row length %d is not a multiple of the %s block size %d", name, ti.Dims[0], ti.Type, bs)
	}
	blocks := n / bs
	if blocks > math.MaxInt64/uint64(ti.Type.BlockBytes()) {
		return TensorInfo{}, formatErr("tensor %q is too large", name)
	}
	ti.Size = blocks * uint64(ti.Type.BlockBytes())
	if ti.Offset, err = p.u64(fmt.Sprintf("tensor %q offset", name)); err != nil {
		return TensorInfo{}, err
	}
	return ti, nil
}

// placeTensors checks each tensor's range against the data section and the
// others, then points its Data into b.
func (f *File) placeTensors(b []byte) error {
	if len(f.Tensors) == 0 {
		return nil
	}
	dataLen := uint64(len(b)) - f.DataOffset
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return f.Tensors[order[i]].Offset < f.Tensors[order[j]].Offset })
	var end uint64
	var prev string
	for k, i := range order {
		t := &f.Tensors[i]
		if t.Offset%f.Alignment != 0 {
			return formatErr("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return formatErr("tensor %q: data [%d, %d) runs past the end of the data section (%d bytes; file truncated?)", t.Name, t.Offset, t.Offset+t.Size, dataLen)
		}
		if k > 0 && t.Offset < end {
			return formatErr("tensor %q overlaps tensor %q", t.Name, prev)
		}
		end = t.Offset + t.Size
		prev = t.Name
		start := f.DataOffset + t.Offset
		t.Data = b[start : start+t.Size : start+t.Size]
	}
	return nil
}

func (p *parser) value(t ValueType, key string, depth int) (Value, error) {
	switch t {
	case ValueString:
		s, err := p.str(fmt.Sprintf("value of %q", key))
		return Value{Type: t, v: s}, err
	case ValueArray:
		return p.array(key, depth)
	}
	sz := t.size()
	if sz == 0 {
		return Value{}, formatErr("metadata key %q has unknown value type %d", key, uint32(t))
	}
	if err := p.need(uint64(sz), fmt.Sprintf("value of %q", key)); err != nil {
		return Value{}, err
	}
	b := p.b[p.off : p.off+uint64(sz)]
	p.off += uint64(sz)
	var v any
	switch t {
	case ValueUint8:
		v = b[0]
	case ValueInt8:
		v = int8(b[0])
	case ValueBool:
		if b[0] > 1 {
			return Value{}, formatErr("metadata key %q: bool value %d", key, b[0])
		}
		v = b[0] == 1
	case ValueUint16:
		v = binary.LittleEndian.Uint16(b)
	case ValueInt16:
		v = int16(binary.LittleEndian.Uint16(b))
	case ValueUint32:
		v = binary.LittleEndian.Uint32(b)
	case ValueInt32:
		v = int32(binary.LittleEndian.Uint32(b))
	case ValueFloat32:
		v = math.Float32frombits(binary.LittleEndian.Uint32(b))
	case ValueUint64:
		v = binary.LittleEndian.Uint64(b)
	case ValueInt64:
		v = int64(binary.LittleEndian.Uint64(b))
	case ValueFloat64:
		v = math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return Value{Type: t, v: v}, nil
}

func (p *parser) array(key string, depth int) (Value, error) {
	if depth >= maxArrayDepth {
		return Value{}, formatErr("metadata key %q: arrays nested deeper than %d", key, maxArrayDepth)
	}
	et, err := p.u32(fmt.Sprintf("array type of %q", key))
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	n, err := p.count(fmt.Sprintf("array length of %q", key))
	if err != nil {
		return Value{}, err
	}
	// The smallest encoding of one element bounds the count.
	minSize := uint64(elem.size())
	switch elem {
	case ValueString:
		minSize = 4
		if p.version > 1 {
			minSize = 8
		}
	case ValueArray:
		minSize = 8
		if p.version > 1 {
			minSize = 12
		}
	}
	if minSize == 0 {
		return Value{}, formatErr("metadata key %q: array of unknown value type %d", key, et)
	}
	if n > p.remaining()/minSize {
		return Value{}, formatErr("metadata key %q: array of %d %s elements does not fit in the file", key, n, elem)
	}
	if sz := uint64(elem.size()); sz > 0 {
		raw := p.b[p.off : p.off+n*sz]
		p.off += n * sz
		v, err := decodeScalars(elem, raw, int(n))
		if err != nil {
			return Value{}, formatErr("metadata key %q: %v", key, err)
		}
		return arrayValue(elem, v), nil
	}
	if elem == ValueString {
		return p.stringArray(key, n)
	}
	vals := make([]Value, n)
	for i := range vals {
		// Each element of an array of arrays is itself encoded as an
		// array: element type, count, elements.
		sub, err := p.array(fmt.Sprintf("%s[%d]", key, i), depth+1)
		if err != nil {
			return Value{}, err
		}
		vals[i] = sub
	}
	return arrayValue(ValueArray, vals), nil
}

// stringArray reads n strings with one allocation for all their bytes.
func (p *parser) stringArray(key string, n uint64) (Value, error) {
	start := p.off
	var total uint64
	width := uint64(8)
	if p.version == 1 {
		width = 4
	}
	for i := uint64(0); i < n; i++ {
		// The messages are formatted only on failure: vocabularies hold
		// hundreds of thousands of strings.
		if p.remaining() < width {
			return Value{}, p.need(width, fmt.Sprintf("length of %q[%d]", key, i))
		}
		l, _ := p.count("")
		if l > p.remaining() {
			return Value{}, p.need(l, fmt.Sprintf("%q[%d]", key, i))
		}
		p.off += l
		total += l
	}
	arena := make([]byte, 0, total)
	out := make([]string, n)
	off := start
	for i := range out {
		var l uint64
		if p.version == 1 {
			l = uint64(binary.LittleEndian.Uint32(p.b[off:]))
			off += 4
		} else {
			l = binary.LittleEndian.Uint64(p.b[off:])
			off += 8
		}
		s := len(arena)
		arena = append(arena, p.b[off:off+l]...)
		off += l
		if l > 0 {
			out[i] = unsafe.String(&arena[s], int(l))
		}
	}
	return arrayValue(ValueString, out), nil
}

func decodeScalars(t ValueType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case ValueUint8:
		return append([]uint8(nil), raw...), nil
	case ValueInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out, nil
	case ValueBool:
		out := make([]bool, n)
		for i := range out {
			if raw[i] > 1 {
				return nil, fmt.Errorf("bool element %d has value %d", i, raw[i])
			}
			out[i] = raw[i] == 1
		}
		return out, nil
	case ValueUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out, nil
	case ValueInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case ValueUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out, nil
	case ValueInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case ValueFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case ValueUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out, nil
	case ValueInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out, nil
	case ValueFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected element type %s", t)
}
