package compute

import (
	"fmt"
	"unsafe"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/quant"
)

// Matrix is a 2-D weight tensor: Rows rows of Cols elements of Type, stored
// row after row in Data (a slice of the mapped file).
type Matrix struct {
	Name       string
	Type       gguf.Type
	Rows, Cols int
	Data       []byte

	rowBytes int
	tr       *quant.Traits // the weight type
	xtr      *quant.Traits // the activation type of its dot products
	f32      []float32     // Data viewed as float32 when Type is F32
}

// NewMatrix checks that data holds rows × cols elements of type t.
func NewMatrix(name string, t gguf.Type, cols, rows int, data []byte) (*Matrix, error) {
	tr, err := quant.Lookup(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if cols <= 0 || rows <= 0 || cols%tr.BlockSize != 0 {
		return nil, fmt.Errorf("tensor %q: shape [%d %d] does not fit %s blocks of %d", name, cols, rows, t, tr.BlockSize)
	}
	rb := tr.RowBytes(cols)
	if len(data) != rb*rows {
		return nil, fmt.Errorf("tensor %q: %d bytes for [%d %d] %s, expected %d", name, len(data), cols, rows, t, rb*rows)
	}
	xtr, err := quant.Lookup(tr.VecDotType)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	m := &Matrix{Name: name, Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb, tr: tr, xtr: xtr}
	if t == gguf.TypeF32 {
		m.f32 = bytesToF32(data)
	}
	return m, nil
}

// bytesToF32 views little-endian float32 data in place (no copy).
func bytesToF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// Row returns the encoded bytes of row i.
func (m *Matrix) Row(i int) []byte { return m.Data[i*m.rowBytes : (i+1)*m.rowBytes] }

// RowFloat32 decodes row i into dst (len Cols) exactly, as an embedding
// lookup does.
func (m *Matrix) RowFloat32(i int, dst []float32) {
	if m.f32 != nil {
		copy(dst, m.f32[i*m.Cols:(i+1)*m.Cols])
		return
	}
	m.tr.Dequantize(dst[:m.Cols], m.Row(i))
}

// ActivationBytes is the scratch space MatMul needs for n activation rows.
func (m *Matrix) ActivationBytes(n int) int {
	if m.f32 != nil {
		return 0
	}
	return n * m.xtr.RowBytes(m.Cols)
}

// MatMul computes out[t·Rows + r] = W[r]·x[t] for n activation rows x (each
// Cols wide, packed). Activations are first converted to the weight type's
// dot-product type in qbuf (ActivationBytes(n) bytes). Every output depends
// only on its own weight row and activation row, never on n.
func (p *Pool) MatMul(w *Matrix, x []float32, n int, out []float32, qbuf []byte) {
	p.MatMulStrided(w, x, n, out, w.Rows, qbuf)
}

// MatMulStrided is MatMul writing row t of the result at out[t·ldo:].
func (p *Pool) MatMulStrided(w *Matrix, x []float32, n int, out []float32, ldo int, qbuf []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	xrb := 0
	var xb []byte
	if w.f32 == nil {
		xrb = w.xtr.RowBytes(w.Cols)
		xb = qbuf[:n*xrb]
		p.qj = quantJob{tr: w.xtr, x: x, cols: w.Cols, dst: xb, rowBytes: xrb}
		p.runLocked(&p.qj, n, 1)
	}
	p.mm = matmulJob{w: w, x: x, xb: xb, xrb: xrb, n: n, out: out, ldo: ldo}
	chunk := max(1, min(64, w.Rows/(8*p.threads)))
	p.runLocked(&p.mm, w.Rows, chunk)
	p.mm = matmulJob{}
	p.qj = quantJob{}
}

type quantJob struct {
	tr       *quant.Traits
	x        []float32
	cols     int
	dst      []byte
	rowBytes int
}

func (j *quantJob) Run(_, lo, hi int) {
	for t := lo; t < hi; t++ {
		j.tr.QuantizeActivation(j.dst[t*j.rowBytes:(t+1)*j.rowBytes], j.x[t*j.cols:(t+1)*j.cols])
	}
}

type matmulJob struct {
	w   *Matrix
	x   []float32
	xb  []byte
	xrb int
	n   int
	out []float32
	ldo int
}

func (j *matmulJob) Run(_, lo, hi int) {
	w := j.w
	cols := w.Cols
	if w.f32 != nil {
		for t := 0; t < j.n; t++ {
			xr := j.x[t*cols : (t+1)*cols]
			o := j.out[t*j.ldo:]
			for r := lo; r < hi; r++ {
				o[r] = kernels.Dot(w.f32[r*cols:(r+1)*cols], xr)
			}
		}
		return
	}
	dot := w.tr.VecDot
	for t := 0; t < j.n; t++ {
		xr := j.xb[t*j.xrb : (t+1)*j.xrb]
		o := j.out[t*j.ldo:]
		for r := lo; r < hi; r++ {
			o[r] = dot(cols, w.Data[r*w.rowBytes:(r+1)*w.rowBytes], xr)
		}
	}
}
