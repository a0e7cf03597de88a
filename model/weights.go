package model

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// Weights fetches tensors from a file, checking each shape against what
// the architecture expects. The first problem is kept and reported by Err,
// naming the tensor and both shapes, so construction code reads as a list
// of tensors.
type Weights struct {
	f   *gguf.File
	err error
}

// NewWeights reads tensors of f.
func NewWeights(f *gguf.File) *Weights { return &Weights{f: f} }

// Err returns the first problem met.
func (w *Weights) Err() error { return w.err }

// Has reports whether the file has the tensor.
func (w *Weights) Has(name string) bool {
	_, ok := w.f.Tensor(name)
	return ok
}

func (w *Weights) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("model: "+format, args...)
	}
}

func (w *Weights) get(name string, optional bool, dims ...int) *gguf.TensorInfo {
	if w.err != nil {
		return nil
	}
	t, ok := w.f.Tensor(name)
	if !ok {
		if !optional {
			w.fail("missing tensor %q (expected shape %v)", name, dims)
		}
		return nil
	}
	same := len(t.Dims) == len(dims)
	for i := 0; same && i < len(dims); i++ {
		same = t.Dims[i] == uint64(dims[i])
	}
	if !same {
		w.fail("tensor %q has shape %v, expected %v", name, t.Dims, dims)
		return nil
	}
	return t
}

// Matrix returns the 2-D tensor name of shape [cols rows] (cols is the row
// length, ggml's ne0).
func (w *Weights) Matrix(name string, cols, rows int) *compute.Matrix {
	return w.matrix(name, false, cols, rows)
}

// OptionalMatrix is Matrix returning nil when the tensor is absent.
func (w *Weights) OptionalMatrix(name string, cols, rows int) *compute.Matrix {
	return w.matrix(name, true, cols, rows)
}

func (w *Weights) matrix(name string, optional bool, cols, rows int) *compute.Matrix {
	t := w.get(name, optional, cols, rows)
	if t == nil {
		return nil
	}
	m, err := compute.NewMatrix(name, t.Type, cols, rows, t.Data)
	if err != nil {
		w.fail("%v", err)
		return nil
	}
	m.Mapped = w.f.Mapped()
	return m
}

// Vector returns the 1-D tensor name of length n as float32 (norm weights,
// biases), decoded once into a new slice (these tensors are small).
func (w *Weights) Vector(name string, n int) []float32 {
	return w.vector(name, false, n)
}

// OptionalVector is Vector returning nil when the tensor is absent.
func (w *Weights) OptionalVector(name string, n int) []float32 {
	return w.vector(name, true, n)
}

func (w *Weights) vector(name string, optional bool, n int) []float32 {
	t := w.get(name, optional, n)
	if t == nil {
		return nil
	}
	m, err := compute.NewMatrix(name, t.Type, n, 1, t.Data)
	if err != nil {
		w.fail("%v", err)
		return nil
	}
	out := make([]float32, n)
	m.RowFloat32(0, out)
	return out
}

// VectorRows returns the 2-D tensor name of shape [n rows] as rows
// float32 vectors of length n (per-expert biases), decoded once.
func (w *Weights) VectorRows(name string, n, rows int) [][]float32 {
	t := w.get(name, false, n, rows)
	if t == nil {
		return nil
	}
	m, err := compute.NewMatrix(name, t.Type, n, rows, t.Data)
	if err != nil {
		w.fail("%v", err)
		return nil
	}
	all := make([]float32, n*rows)
	out := make([][]float32, rows)
	for r := range out {
		out[r] = all[r*n : (r+1)*n : (r+1)*n]
		m.RowFloat32(r, out[r])
	}
	return out
}

// CheckTypes verifies that every tensor of the file has a supported type,
// so an unsupported type is reported by name before anything runs.
func CheckTypes(f *gguf.File) error {
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if _, err := quant.Lookup(t.Type); err != nil {
			return fmt.Errorf("model: tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// Split returns the 2-D tensor name of shape [cols sum(rows)] as one
// matrix per row range (rows[0] rows, then rows[1], …) over the same
// mapped data, without copying: fused tensors such as attn_qkv become
// their parts once, at load time.
func (w *Weights) Split(name string, cols int, rows ...int) []*compute.Matrix {
	total := 0
	for _, r := range rows {
		total += r
	}
	m := w.Matrix(name, cols, total)
	if m == nil {
		return make([]*compute.Matrix, len(rows))
	}
	rb := len(m.Data) / m.Rows
	parts := make([]*compute.Matrix, len(rows))
	at := 0
	for i, r := range rows {
		p, err := compute.NewMatrix(fmt.Sprintf("%s[%d:%d]", name, at, at+r), m.Type, cols, r, m.Data[at*rb:(at+r)*rb])
		if err != nil {
			w.fail("%v", err)
			return parts
		}
		p.Mapped = m.Mapped
		parts[i] = p
		at += r
	}
	return parts
}

// Experts returns the 3-D tensor name of shape [cols rows n] (ggml ne) as
// n matrices of [cols rows], one per expert, without copying.
func (w *Weights) Experts(name string, cols, rows, n int) []*compute.Matrix {
	t := w.get(name, false, cols, rows, n)
	if t == nil {
		return nil
	}
	per := len(t.Data) / n
	out := make([]*compute.Matrix, n)
	for e := range out {
		m, err := compute.NewMatrix(fmt.Sprintf("%s[%d]", name, e), t.Type, cols, rows, t.Data[e*per:(e+1)*per])
		if err != nil {
			w.fail("%v", err)
			return nil
		}
		m.Mapped = w.f.Mapped()
		out[e] = m
	}
	return out
}
