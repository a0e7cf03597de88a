package model

import "github.com/shimmer-llm/shimmer/kernels"

// rowOp is a per-entry operation of a forward pass that rowJob spreads
// over the pool's threads in prompt processing (where one thread alone
// would leave the others waiting between matrix products). Each entry's
// row is computed by the same call whatever the split, so the results are
// those of the serial loop, bit for bit, for any batch.
type rowOp int

const (
	rowNorm   rowOp = iota // dst = RMSNorm(x)·w
	rowAdd                 // dst += x
	rowSwiGLU              // dst = SiLU(x)·y
	rowGeGLU               // dst = GELU(x)·y
	rowRope                // rotate the heads of dst by the angles in x
)

// rowJob is one rowOp over entries [lo, hi) (compute.Job).
type rowJob struct {
	op        rowOp
	dst, x, y []float32
	w         []float32
	width     int // values per entry
	eps       float32
	heads     int // rope: heads per entry, of width/heads values
	ropeDims  int // rope: angle values per entry
	neox      bool
}

func (j *rowJob) Run(_, lo, hi int) {
	d := j.width
	for i := lo; i < hi; i++ {
		dst := j.dst[i*d : (i+1)*d]
		switch j.op {
		case rowNorm:
			kernels.RMSNorm(dst, j.x[i*d:(i+1)*d], j.w, j.eps)
		case rowAdd:
			kernels.Add(dst, j.x[i*d:(i+1)*d])
		case rowSwiGLU:
			kernels.SwiGLU(dst, j.x[i*d:(i+1)*d], j.y[i*d:(i+1)*d])
		case rowGeGLU:
			GeGLU(dst, j.x[i*d:(i+1)*d], j.y[i*d:(i+1)*d])
		case rowRope:
			c := j.x[i*j.ropeDims : (i+1)*j.ropeDims]
			hd := d / j.heads
			for h := 0; h < j.heads; h++ {
				v := dst[h*hd : (h+1)*hd]
				if j.neox {
					kernels.RopeNeox(v, c)
				} else {
					kernels.RopeNorm(v, c)
				}
			}
		}
	}
}

// runRows runs s.rowJob (set up by the caller) over n entries: on the
// pool when there is enough work to share, else on this thread.
func (s *State) runRows(n int) {
	s.Pool.RunWork(&s.rowJob, n, 0, n*s.rowJob.width)
	s.rowJob = rowJob{}
}

// NormRows normalizes n rows of width len(w) from x into dst (RMSNorm)
// and multiplies them by w, on the state's threads.
func (s *State) NormRows(dst, x, w []float32, n int, eps float32) {
	s.rowJob = rowJob{op: rowNorm, dst: dst, x: x, w: w, width: len(w), eps: eps}
	s.runRows(n)
}

// AddRows adds n rows of src to dst (the residual connection), on the
// state's threads.
func (s *State) AddRows(dst, src []float32, n, width int) {
	s.rowJob = rowJob{op: rowAdd, dst: dst, x: src, width: width}
	s.runRows(n)
}

// GLURows sets dst = act(gate)·up for n rows of width values: SwiGLU, or
// GeGLU if gelu.
func (s *State) GLURows(dst, gate, up []float32, n, width int, gelu bool) {
	op := rowSwiGLU
	if gelu {
		op = rowGeGLU
	}
	s.rowJob = rowJob{op: op, dst: dst, x: gate, y: up, width: width}
	s.runRows(n)
}
