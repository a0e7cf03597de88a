package model

import (
	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/kernels"
)

// Embed writes the embedding rows of the batch's tokens to x.
func Embed(emb *compute.Matrix, b *Batch, x []float32) {
	e := emb.Cols
	for i, t := range b.Tokens {
		emb.RowFloat32(int(t), x[i*e:(i+1)*e])
	}
}

// RMSNormRows normalizes n rows of width len(w) from x into dst and
// multiplies them by w.
func RMSNormRows(dst, x, w []float32, n int, eps float32) {
	d := len(w)
	for i := 0; i < n; i++ {
		kernels.RMSNorm(dst[i*d:(i+1)*d], x[i*d:(i+1)*d], w, eps)
	}
}

// AddRows adds n rows of src to dst (the residual connection).
func AddRows(dst, src []float32, n, width int) {
	kernels.Add(dst[:n*width], src[:n*width])
}

// AddBias adds bias to each of n rows of x.
func AddBias(x, bias []float32, n int) {
	w := len(bias)
	for i := 0; i < n; i++ {
		kernels.Add(x[i*w:(i+1)*w], bias)
	}
}

// RMSNormHeads normalizes every head of n rows of x in place: each row
// holds heads vectors of width len(w), each normalized on its own and
// multiplied by w (per-head q/k norms).
func RMSNormHeads(x, w []float32, n, heads int, eps float32) {
	d := len(w)
	for i := 0; i < n*heads; i++ {
		v := x[i*d : (i+1)*d]
		kernels.RMSNorm(v, v, w, eps)
	}
}

// RopeAngles computes the rotary cos/sin table for every entry of b into
// rope buffer slot (0 or 1) and returns it: RopeDims values per entry.
// scale is the frequency scale; factors (rope_freqs) may be nil.
func (s *State) RopeAngles(slot int, b *Batch, base, scale float32, factors []float32) []float32 {
	h := s.H
	buf := s.rope[slot][:b.Len()*h.RopeDims]
	y := kernels.YaRN{MScale: 1}
	if h.Yarn != nil {
		y = *h.Yarn
	}
	for i, p := range b.Pos {
		kernels.RopeAnglesYaRN(buf[i*h.RopeDims:(i+1)*h.RopeDims], int(p), h.RopeDims, base, scale, factors, y)
	}
	return buf
}

// Rope rotates the heads of n rows of x (each heads×headDim wide) by the
// per-entry angles cs from RopeAngles.
func (s *State) Rope(x []float32, n, heads, headDim int, cs []float32) {
	rd := s.H.RopeDims
	for i := 0; i < n; i++ {
		c := cs[i*rd : (i+1)*rd]
		for hd := 0; hd < heads; hd++ {
			v := x[(i*heads+hd)*headDim : (i*heads+hd+1)*headDim]
			if s.H.RopeNeox {
				kernels.RopeNeox(v, c)
			} else {
				kernels.RopeNorm(v, c)
			}
		}
	}
}

// MatMul multiplies n activation rows x by w into out using the state's pool.
func (s *State) MatMul(w *compute.Matrix, x []float32, n int, out []float32) {
	s.Pool.MatMul(w, x, n, out, s.QBuf)
}

// MatMul3 multiplies n activation rows x by up to three matrices (nil ones
// skipped) into the matching outputs, converting x once.
func (s *State) MatMul3(w0, w1, w2 *compute.Matrix, x []float32, n int, o0, o1, o2 []float32) {
	s.Pool.MatMul3([3]*compute.Matrix{w0, w1, w2}, x, n, [3][]float32{o0, o1, o2}, s.QBuf)
}

// Attention stores the batch's keys k [n][KDim] and values v [n][VDim] in
// layer l of the cache, then computes causal attention for every entry and
// query head of q [n][QDim] into out [n][Heads·ValueDim]: each entry sees
// its own sequence's positions up to its own (the last Window of them in a
// sliding-window layer), scores scaled by AttnScale unless ScaleQ says the
// queries already are. sinks (one logit per query head, or nil) join each
// softmax.
func (s *State) Attention(l int, b *Batch, q, k, v, out, sinks []float32) {
	h, c := s.H, s.Cache
	kd, vd := h.KDim(), h.VDim()
	for i := range b.Tokens {
		c.Store(l, int(b.Seq[i]), int(b.Pos[i]), k[i*kd:(i+1)*kd], v[i*vd:(i+1)*vd])
	}
	window := 0
	if h.SWA[l] {
		window = h.Window
	}
	scale := h.AttnScale
	if h.ScaleQ {
		scale = 1
	}
	s.att = attentionJob{s: s, l: l, b: b, q: q, out: out, sinks: sinks, window: window, scale: scale}
	// One task per (entry, KV head): the query heads that share a KV
	// head are computed together, each block of cached rows read once
	// for all of them while it is in L1.
	work := 0
	for _, pos := range b.Pos {
		span := int(pos) + 1
		if window > 0 {
			span = min(span, window)
		}
		work += span
	}
	work *= 2 * h.Heads * h.HeadDim
	s.Pool.RunWork(&s.att, b.Len()*h.KVHeads, 1, work)
	s.att = attentionJob{}
}

type attentionJob struct {
	s      *State
	l      int
	b      *Batch
	q, out []float32
	sinks  []float32
	window int
	scale  float32
}

// attnBlock is how many cached rows are read at a time: 64 rows of a
// 128-wide head are 32 KiB, within L1 while the group's heads use them.
const attnBlock = 64

// Run handles tasks [lo, hi): task = entry·KVHeads + KV head. Each query
// head's scores, softmax and sum are computed exactly as alone (every dot
// product on its own, the values added in position order), so results
// do not depend on the grouping.
func (j *attentionJob) Run(worker, lo, hi int) {
	s, h, c := j.s, j.s.H, j.s.Cache
	group := h.Heads / h.KVHeads
	capacity := c.Cap(j.l)
	kbuf, vbuf := s.kvRows[worker][:attnBlock*h.HeadDim], s.kvRows[worker][attnBlock*h.HeadDim:]
	for task := lo; task < hi; task++ {
		i, kvh := task/h.KVHeads, task%h.KVHeads
		seq, pos := int(j.b.Seq[i]), int(j.b.Pos[i])
		first := 0
		if j.window > 0 {
			first = max(0, pos-j.window+1)
		}
		span := pos - first + 1
		scores := s.scores[worker][:group*span]
		head0 := kvh * group
		// Positions first..pos occupy consecutive cells but for the wrap
		// of a ring (sliding-window) layer: runs of rows, cut in blocks.
		for p := first; p <= pos; {
			cell := p % capacity
			cnt := min(pos-p+1, capacity-cell, attnBlock)
			row := seq*capacity + cell
			krows, kstride := c.Keys(j.l, row, cnt, kvh*h.HeadDim, h.HeadDim, kbuf)
			for g := 0; g < group; g++ {
				qh := j.q[(i*h.Heads+head0+g)*h.HeadDim : (i*h.Heads+head0+g+1)*h.HeadDim]
				kernels.DotRows(scores[g*span+p-first:g*span+p-first+cnt], qh, krows, kstride)
			}
			p += cnt
		}
		for g := 0; g < group; g++ {
			sc := scores[g*span : (g+1)*span]
			for p := range sc {
				sc[p] *= j.scale
			}
			if j.sinks != nil {
				kernels.SoftmaxSink(sc, j.sinks[head0+g])
			} else {
				kernels.Softmax(sc)
			}
			clear(j.out[(i*h.Heads+head0+g)*h.ValueDim : (i*h.Heads+head0+g+1)*h.ValueDim])
		}
		for p := first; p <= pos; {
			cell := p % capacity
			cnt := min(pos-p+1, capacity-cell, attnBlock)
			row := seq*capacity + cell
			vrows, vstride := c.Values(j.l, row, cnt, kvh*h.ValueDim, h.ValueDim, vbuf)
			for g := 0; g < group; g++ {
				o := j.out[(i*h.Heads+head0+g)*h.ValueDim : (i*h.Heads+head0+g+1)*h.ValueDim]
				kernels.AXPYRows(o, scores[g*span+p-first:g*span+p-first+cnt], vrows, vstride)
			}
			p += cnt
		}
	}
}
