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
	s.rowJob = rowJob{op: rowRope, dst: x, x: cs, width: heads * headDim, heads: heads, ropeDims: s.H.RopeDims, neox: s.H.RopeNeox}
	s.runRows(n)
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
	h := s.H
	s.store = storeJob{c: s.Cache, l: l, b: b, k: k, v: v}
	s.Pool.RunWork(&s.store, b.Len(), kernels.AttnBlock, b.Len()*(h.KDim()+h.VDim()))
	s.store = storeJob{}
	window := 0
	if h.SWA[l] {
		window = h.Window
	}
	scale := h.AttnScale
	if h.ScaleQ {
		scale = 1
	}
	// Tiles: runs of up to attnTile entries of one sequence at
	// consecutive positions (a prompt's), computed together.
	s.tiles = s.tiles[:0]
	for i := 0; i < b.Len(); {
		e := i + 1
		for e < b.Len() && e-i < attnTile && b.Seq[e] == b.Seq[i] && b.Pos[e] == b.Pos[e-1]+1 {
			e++
		}
		s.tiles = append(s.tiles, int32(i))
		i = e
	}
	s.tiles = append(s.tiles, int32(b.Len()))
	s.att = attentionJob{s: s, l: l, b: b, q: q, out: out, sinks: sinks, window: window, scale: scale}
	// One task per (KV head, tile).
	work := 0
	for _, pos := range b.Pos {
		span := int(pos) + 1
		if window > 0 {
			span = min(span, window)
		}
		work += span
	}
	work *= 2 * h.Heads * h.HeadDim
	s.Pool.RunWork(&s.att, (len(s.tiles)-1)*h.KVHeads, 1, work)
	s.att = attentionJob{}
}

// storeJob writes the keys and values of batch entries [lo, hi) to layer
// l of the cache (compute.Job). Entries are distinct cells (a batch holds
// each sequence's position once, and a ring layer has room for a window
// plus a batch), so the pieces may run in any order; pieces of 64 entries
// keep the threads' transposed key stores on separate cache lines in a
// prompt.
type storeJob struct {
	c    *KVCache
	l    int
	b    *Batch
	k, v []float32
}

func (j *storeJob) Run(_, lo, hi int) {
	kd, vd := j.c.kdim[j.l], j.c.vdim[j.l]
	for i := lo; i < hi; i++ {
		j.c.Store(j.l, int(j.b.Seq[i]), int(j.b.Pos[i]), j.k[i*kd:(i+1)*kd], j.v[i*vd:(i+1)*vd])
	}
}

// attnTile is the most entries an attention task takes: a prompt's
// consecutive entries share every key and value block but the last, so
// a block is read (and widened to float32) once for all of them.
const attnTile = 4

type attentionJob struct {
	s      *State
	l      int
	b      *Batch
	q, out []float32
	sinks  []float32
	window int
	scale  float32
}

// Run handles tasks [lo, hi): task = KV head·tiles + tile, so the
// threads take the tiles of one KV head in turn while its cached keys
// and values stay in their caches (taking each entry's KV heads in turn
// instead re-read all of a layer's cache per entry: at depth 4096 that is
// 4 MB, twice the L2 of the Xeon measured). The query heads that share
// the KV head, of every entry of the tile, are computed together, a block
// of 64 cached positions at a time (the block's keys and values read,
// and widened to float32 when the tile has several entries, once for all
// of them): scores, then an online softmax (the running maximum m and sum
// l of each head; its output so far rescaled by exp(m_old - m_new) when m
// grows), then the block's values weighted by the probabilities. Blocks
// are aligned on positions (64k to 64k+63) and each head's operations
// are the same, in the same order, whatever it is computed with (the
// half-precision kernels widen exactly as F16Rows does), so results do
// not depend on the grouping, the tiles or the batch.
func (j *attentionJob) Run(worker, lo, hi int) {
	const blk = kernels.AttnBlock
	s, h, c := j.s, j.s.H, j.s.Cache
	group := h.Heads / h.KVHeads
	capacity := c.Cap(j.l)
	kd, vd := c.kdim[j.l], c.vdim[j.l]
	tiles := len(s.tiles) - 1
	for task := lo; task < hi; task++ {
		kvh, ti := task/tiles, task%tiles
		e0 := int(s.tiles[ti])
		T := int(s.tiles[ti+1]) - e0
		rows := T * group
		scores := s.scores[worker][:rows*blk]
		ms, alpha := s.smax[worker][:rows], s.smax[worker][rows:2*rows]
		ls, sums := s.softmax[worker][:rows], s.softmax[worker][rows:2*rows]
		seq, pos0 := int(j.b.Seq[e0]), int(j.b.Pos[e0])
		first := func(t int) int {
			if j.window > 0 {
				return max(0, pos0+t-j.window+1)
			}
			return 0
		}
		head0 := kvh * group
		for t := range T {
			i := e0 + t
			clear(j.out[(i*h.Heads+head0)*h.ValueDim : (i*h.Heads+head0+group)*h.ValueDim])
		}
		for r := range rows {
			ms[r], ls[r] = float32(math.Inf(-1)), 0
			if j.sinks != nil {
				ms[r], ls[r] = j.sinks[head0+r%group], 1
			}
		}
		// One entry reads the half-precision cache directly; several
		// widen each block once.
		widen := T > 1
		for base := first(0) / blk * blk; base < pos0+T; base += blk {
			cell := seq*capacity + base%capacity
			kat := cell/blk*kd*blk + kvh*h.HeadDim*blk
			vat := cell*vd + kvh*h.ValueDim
			var kf []float32
			switch {
			case c.k8 != nil:
				kf = s.deq[worker][:h.HeadDim*blk]
				sat := keyAt(cell, kd/32) + kvh*(h.HeadDim/32)*blk
				kernels.DequantQ8T(kf, c.k8[j.l][kat:kat+h.HeadDim*blk], c.ks[j.l][sat:sat+h.HeadDim/32*blk], h.HeadDim)
			case c.k16 != nil && widen:
				kf = s.deq[worker][:h.HeadDim*blk]
				kernels.F16Rows(kf, c.k16[j.l][kat:kat+h.HeadDim*blk], 1, h.HeadDim*blk, 0)
			case c.k16 == nil:
				kf = c.k[j.l][kat : kat+h.HeadDim*blk]
			}
			// The block's positions [lo, hi) each entry sees, and their
			// union [vlo, vhi).
			var span [attnTile][2]int
			vlo, vhi := blk, 0
			for t := range T {
				lo, hi := max(first(t)-base, 0), min(pos0+t-base+1, blk)
				span[t] = [2]int{lo, hi}
				if lo < hi {
					vlo, vhi = min(vlo, lo), max(vhi, hi)
				}
			}
			for t := range T {
				lo, hi := span[t][0], span[t][1]
				if lo >= hi {
					continue
				}
				sc := scores[t*group*blk : (t+1)*group*blk]
				q := j.q[((e0+t)*h.Heads+head0)*h.HeadDim:]
				if kf != nil {
					kernels.AttnScores(sc, q, group, h.HeadDim, kf, h.HeadDim)
				} else {
					kernels.AttnScoresF16(sc, q, group, h.HeadDim, c.k16[j.l][kat:kat+h.HeadDim*blk], h.HeadDim)
				}
				out := j.out[((e0+t)*h.Heads+head0)*h.ValueDim:]
				r0 := t * group
				kernels.SoftmaxBlocks(sc, group, lo, hi, j.scale, ms[r0:r0+group], alpha[r0:r0+group], sums[r0:r0+group])
				for g := range group {
					r := r0 + g
					if alpha[r] != 1 {
						ls[r] *= float64(alpha[r])
						kernels.Scale(out[g*h.ValueDim:(g+1)*h.ValueDim], alpha[r])
					}
					ls[r] += sums[r]
				}
			}
			if vlo >= vhi {
				continue
			}
			// The values of positions [vlo, vhi) as float32 rows vs
			// apart (vf[0] is position vlo), or nil to read the
			// half-precision cache.
			var vf []float32
			vs := h.ValueDim
			switch {
			case c.v8 != nil:
				vf = s.deq[worker][h.HeadDim*blk : h.HeadDim*blk+(vhi-vlo)*h.ValueDim]
				for r := range vhi - vlo {
					at := vat + (vlo+r)*vd
					kernels.DequantQ8(vf[r*h.ValueDim:(r+1)*h.ValueDim], c.v8[j.l][at:at+h.ValueDim], c.vs[j.l][at/32:(at+h.ValueDim)/32])
				}
			case c.v16 != nil && widen:
				vf = s.deq[worker][h.HeadDim*blk : h.HeadDim*blk+(vhi-vlo)*h.ValueDim]
				kernels.F16Rows(vf, c.v16[j.l][vat+vlo*vd:], vhi-vlo, h.ValueDim, vd)
			case c.v16 == nil:
				vf, vs = c.v[j.l][vat+vlo*vd:], vd
			}
			for t := range T {
				lo, hi := span[t][0], span[t][1]
				if lo >= hi {
					continue
				}
				sc := scores[t*group*blk+lo:]
				out := j.out[((e0+t)*h.Heads+head0)*h.ValueDim : ((e0+t)*h.Heads+head0+group)*h.ValueDim]
				if vf != nil {
					kernels.AttnPV(out, group, h.ValueDim, sc, vf[(lo-vlo)*vs:], vs, hi-lo, h.ValueDim)
				} else {
					kernels.AttnPVF16(out, group, h.ValueDim, sc, c.v16[j.l][vat+lo*vd:], vd, hi-lo, h.ValueDim)
				}
			}
		}
		for r := range rows {
			i, g := e0+r/group, r%group
			o := j.out[(i*h.Heads+head0+g)*h.ValueDim : (i*h.Heads+head0+g+1)*h.ValueDim]
			kernels.Scale(o, float32(1/ls[r]))
		}
	}
}
