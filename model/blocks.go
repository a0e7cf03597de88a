package model

import (
	"math"

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
	if s.lora != nil {
		s.adaptedMatMul([3]*compute.Matrix{w}, x, n, [3][]float32{out})
		return
	}
	s.Pool.MatMul(w, x, n, out, s.QBuf)
}

// MatMul3 multiplies n activation rows x by up to three matrices (nil ones
// skipped) into the matching outputs, converting x once.
func (s *State) MatMul3(w0, w1, w2 *compute.Matrix, x []float32, n int, o0, o1, o2 []float32) {
	if s.lora != nil {
		s.adaptedMatMul([3]*compute.Matrix{w0, w1, w2}, x, n, [3][]float32{o0, o1, o2})
		return
	}
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
	// One task per (KV head, entry).
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

// Run handles tasks [lo, hi): task = KV head·entries + entry, so the
// threads take the entries of one KV head in turn while its cached keys
// and values stay in their caches (taking each entry's KV heads in turn
// instead re-read all of a layer's cache per entry: at depth 4096 that is
// 4 MB, twice the L2 of the Xeon measured). The query
// heads that share the KV head are computed together, a block of 64
// cached positions at a time (the block's keys read once for all of them):
// scores, then an online softmax (the running maximum m and sum l of each
// head; its output so far rescaled by exp(m_old - m_new) when m grows),
// then the block's values weighted by the probabilities. Blocks are
// aligned on positions (64k to 64k+63) and each head's operations are the
// same, in the same order, whatever it is computed with, so results do
// not depend on the grouping or on the batch.
func (j *attentionJob) Run(worker, lo, hi int) {
	const blk = kernels.AttnBlock
	s, h, c := j.s, j.s.H, j.s.Cache
	group := h.Heads / h.KVHeads
	capacity := c.Cap(j.l)
	kd, vd := c.kdim[j.l], c.vdim[j.l]
	scores := s.scores[worker][:group*blk]
	ms, ls := s.softmax[worker][:group], s.softmax[worker][group:2*group]
	for task := lo; task < hi; task++ {
		kvh, i := task/j.b.Len(), task%j.b.Len()
		seq, pos := int(j.b.Seq[i]), int(j.b.Pos[i])
		first := 0
		if j.window > 0 {
			first = max(0, pos-j.window+1)
		}
		head0 := kvh * group
		q := j.q[(i*h.Heads+head0)*h.HeadDim:]
		out := j.out[(i*h.Heads+head0)*h.ValueDim : (i*h.Heads+head0+group)*h.ValueDim]
		clear(out)
		for g := range group {
			ms[g], ls[g] = math.Inf(-1), 0
			if j.sinks != nil {
				ms[g], ls[g] = float64(j.sinks[head0+g]), 1
			}
		}
		for base := first / blk * blk; base <= pos; base += blk {
			lo, hi := max(first-base, 0), min(pos-base+1, blk)
			cell := seq*capacity + base%capacity
			kat := cell/blk*kd*blk + kvh*h.HeadDim*blk
			vat := (cell+lo)*vd + kvh*h.ValueDim
			switch {
			case c.k8 != nil:
				kf := s.deq[worker][:h.HeadDim*blk]
				sat := keyAt(cell, kd/32) + kvh*(h.HeadDim/32)*blk
				kernels.DequantQ8T(kf, c.k8[j.l][kat:kat+h.HeadDim*blk], c.ks[j.l][sat:sat+h.HeadDim/32*blk], h.HeadDim)
				kernels.AttnScores(scores, q, group, h.HeadDim, kf, h.HeadDim)
			case c.k16 != nil:
				kernels.AttnScoresF16(scores, q, group, h.HeadDim, c.k16[j.l][kat:kat+h.HeadDim*blk], h.HeadDim)
			default:
				kernels.AttnScores(scores, q, group, h.HeadDim, c.k[j.l][kat:kat+h.HeadDim*blk], h.HeadDim)
			}
			for g := range group {
				m, sum, alpha := kernels.SoftmaxBlock((*[blk]float32)(scores[g*blk:(g+1)*blk]), lo, hi, j.scale, float32(ms[g]))
				if alpha != 1 {
					ls[g] *= float64(alpha)
					kernels.Scale(out[g*h.ValueDim:(g+1)*h.ValueDim], alpha)
				}
				ms[g] = float64(m)
				ls[g] += sum
			}
			switch {
			case c.v8 != nil:
				vf := s.deq[worker][h.HeadDim*blk : h.HeadDim*blk+(hi-lo)*h.ValueDim]
				for r := range hi - lo {
					at := vat + r*vd
					kernels.DequantQ8(vf[r*h.ValueDim:(r+1)*h.ValueDim], c.v8[j.l][at:at+h.ValueDim], c.vs[j.l][at/32:(at+h.ValueDim)/32])
				}
				kernels.AttnPV(out, group, h.ValueDim, scores[lo:], vf, h.ValueDim, hi-lo, h.ValueDim)
			case c.v16 != nil:
				kernels.AttnPVF16(out, group, h.ValueDim, scores[lo:], c.v16[j.l][vat:], vd, hi-lo, h.ValueDim)
			default:
				kernels.AttnPV(out, group, h.ValueDim, scores[lo:], c.v[j.l][vat:], vd, hi-lo, h.ValueDim)
			}
		}
		for g := range group {
			kernels.Scale(out[g*h.ValueDim:(g+1)*h.ValueDim], float32(1/ls[g]))
		}
	}
}
