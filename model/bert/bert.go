// Package bert implements BERT-family encoders (GGUF "bert": bge,
// all-MiniLM, e5, cross-encoder rerankers) as llama.cpp runs them: token,
// token-type (type 0) and learned position embeddings summed and
// LayerNormed; per layer bidirectional attention with biases, the residual
// and a LayerNorm, then a GELU feed-forward with biases, the residual and
// a LayerNorm (post-norm blocks); no final norm. An optional
// classification head (cls: dense, tanh; cls.output: one score per label)
// scores the first token for rank pooling.
package bert

import (
	"fmt"
	"math"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/model"
)

func init() { model.Register("bert", New) }

type layer struct {
	q, k, v, o             *compute.Matrix
	qb, kb, vb, ob         []float32
	attnNormW, attnNormB   []float32
	up, down               *compute.Matrix
	upB, downB             []float32
	layerNormW, layerNormB []float32
}

// Encoder is a BERT model. It implements model.Model (Forward refuses:
// an encoder has no next-token logits) and model.Embedder.
type Encoder struct {
	h               *model.Hyper
	tok, types, pos *compute.Matrix
	embNormW        []float32
	embNormB        []float32
	layers          []layer
	cls, clsOut     *compute.Matrix
	clsB, clsOutB   []float32
	pooling         model.Pooling
	labels          []string
	eps             float32
	maxPos          int
}

// New builds a BERT encoder from f.
func New(f *gguf.File) (model.Model, error) {
	m := &model.Meta{F: f, Arch: "bert"}
	h := &model.Hyper{Arch: "bert"}
	h.Embd = m.Int("embedding_length", 0, true)
	h.Layers = m.Int("block_count", 0, true)
	h.FF = m.Int("feed_forward_length", 0, true)
	h.Heads = m.Int("attention.head_count", 0, true)
	h.CtxTrain = m.Int("context_length", 512, false)
	eps := m.Float("attention.layer_norm_epsilon", 1e-12)
	pooling := m.Int("pooling_type", int64(model.PoolCLS), false)
	if err := m.Err(); err != nil {
		return nil, err
	}
	const maxWidth = 1 << 20
	switch {
	case h.Embd <= 0 || h.Embd > maxWidth || h.FF <= 0 || h.FF > maxWidth || h.Heads <= 0 || h.Embd%h.Heads != 0:
		return nil, fmt.Errorf("model: bert: embedding %d, feed-forward %d and %d heads do not fit", h.Embd, h.FF, h.Heads)
	case h.Layers <= 0 || h.Layers > len(f.Tensors):
		return nil, fmt.Errorf("model: bert.block_count %d is out of range", h.Layers)
	case pooling < int(model.PoolNone) || pooling > int(model.PoolRank):
		return nil, fmt.Errorf("model: bert.pooling_type %d is not a pooling type", pooling)
	}
	if causal, err := f.GetBool("bert.attention.causal", false); err == nil && causal {
		return nil, fmt.Errorf("model: bert.attention.causal is set: causal BERT models are not supported")
	}
	h.KVHeads = h.Heads
	h.HeadDim = h.Embd / h.Heads
	h.ValueDim = h.HeadDim
	h.AttnScale = model.InvSqrt(h.HeadDim)
	h.NormEps = eps
	h.LayerNorm = true
	e := &Encoder{h: h, eps: eps, pooling: model.Pooling(pooling)}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 {
		return nil, fmt.Errorf("model: missing tensor %q (expected shape [%d n_vocab])", "token_embd.weight", h.Embd)
	}
	h.Vocab = int(emb.Dims[1])
	pos, ok := f.Tensor("position_embd.weight")
	if !ok || len(pos.Dims) != 2 {
		return nil, fmt.Errorf("model: missing tensor %q (expected shape [%d n_ctx])", "position_embd.weight", h.Embd)
	}
	e.maxPos = int(pos.Dims[1])
	h.CtxTrain = min(h.CtxTrain, e.maxPos)
	w := model.NewWeights(f)
	d := h.Embd
	e.tok = w.Matrix("token_embd.weight", d, h.Vocab)
	e.pos = w.Matrix("position_embd.weight", d, e.maxPos)
	if types, ok := f.Tensor("token_types.weight"); ok && len(types.Dims) == 2 {
		e.types = w.Matrix("token_types.weight", d, int(types.Dims[1]))
	}
	e.embNormW = w.Vector("token_embd_norm.weight", d)
	e.embNormB = w.Vector("token_embd_norm.bias", d)
	e.layers = make([]layer, h.Layers)
	for i := range e.layers {
		l := &e.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		l.q, l.qb = w.Matrix(p+"attn_q.weight", d, d), w.Vector(p+"attn_q.bias", d)
		l.k, l.kb = w.Matrix(p+"attn_k.weight", d, d), w.Vector(p+"attn_k.bias", d)
		l.v, l.vb = w.Matrix(p+"attn_v.weight", d, d), w.Vector(p+"attn_v.bias", d)
		l.o, l.ob = w.Matrix(p+"attn_output.weight", d, d), w.Vector(p+"attn_output.bias", d)
		l.attnNormW, l.attnNormB = w.Vector(p+"attn_output_norm.weight", d), w.Vector(p+"attn_output_norm.bias", d)
		l.up, l.upB = w.Matrix(p+"ffn_up.weight", d, h.FF), w.Vector(p+"ffn_up.bias", h.FF)
		l.down, l.downB = w.Matrix(p+"ffn_down.weight", h.FF, d), w.Vector(p+"ffn_down.bias", d)
		l.layerNormW, l.layerNormB = w.Vector(p+"layer_output_norm.weight", d), w.Vector(p+"layer_output_norm.bias", d)
	}
	if w.Has("cls.weight") {
		e.cls, e.clsB = w.Matrix("cls.weight", d, d), w.OptionalVector("cls.bias", d)
	}
	if out, ok := f.Tensor("cls.output.weight"); ok && len(out.Dims) == 2 {
		n := int(out.Dims[1])
		if n <= 0 || n > 1<<16 {
			return nil, fmt.Errorf("model: tensor %q has %d labels", out.Name, n)
		}
		e.clsOut, e.clsOutB = w.Matrix("cls.output.weight", d, n), w.OptionalVector("cls.output.bias", n)
	}
	if err := w.Err(); err != nil {
		return nil, err
	}
	if v, ok := f.Get("bert.classifier.output_labels"); ok {
		if ls, ok := v.Any().([]string); ok {
			e.labels = ls
		}
	}
	if e.pooling == model.PoolRank && e.clsOut == nil {
		return nil, fmt.Errorf("model: bert.pooling_type is rank but the file has no classifier (cls.output.weight)")
	}
	h.SWA = make([]bool, h.Layers)
	h.Features = []string{"bidirectional", "post-norm layer norms", "gelu ffn", "pooling " + e.pooling.String()}
	if e.clsOut != nil {
		h.Features = append(h.Features, fmt.Sprintf("classifier (%d labels)", e.clsOut.Rows))
	}
	return e, nil
}

// Hyper implements model.Model.
func (e *Encoder) Hyper() *model.Hyper { return e.h }

// Forward implements model.Model: an encoder has no next-token logits.
func (e *Encoder) Forward(*model.State, *model.Batch, []float32) error {
	return fmt.Errorf("model: bert is an embedding model: it has no next-token logits")
}

// Embeds implements model.Embedder.
func (e *Encoder) Embeds() bool { return true }

// EncoderOnly marks the model for model.IsEncoder: no KV cache.
func (e *Encoder) EncoderOnly() bool { return true }

// Pooling implements model.Embedder.
func (e *Encoder) Pooling() model.Pooling { return e.pooling }

// Labels returns the classifier's labels (nil without them).
func (e *Encoder) Labels() []string { return e.labels }

// OutputDim implements model.Embedder.
func (e *Encoder) OutputDim(p model.Pooling) int {
	if p == model.PoolRank {
		if e.clsOut == nil {
			return 0
		}
		return e.clsOut.Rows
	}
	return e.h.Embd
}

// MaxTokens implements model.Embedder: the position embeddings bound a
// sequence.
func (e *Encoder) MaxTokens() int { return e.maxPos }

// Embed implements model.Embedder: the sequences run together in one pass
// (each token attends to its own sequence only), and each sequence's
// pooled vector is written to out[i] (OutputDim floats; PoolNone: one
// vector per token, concatenated).
func (e *Encoder) Embed(pool *compute.Pool, seqs [][]int32, p model.Pooling, out [][]float32) error {
	h := e.h
	d := h.Embd
	n := 0
	for i, s := range seqs {
		if len(s) == 0 {
			return fmt.Errorf("model: sequence %d is empty", i)
		}
		if len(s) > e.maxPos {
			return fmt.Errorf("model: sequence %d has %d tokens, more than the %d positions of the model", i, len(s), e.maxPos)
		}
		for _, t := range s {
			if t < 0 || int(t) >= h.Vocab {
				return fmt.Errorf("model: token id %d out of range [0, %d)", t, h.Vocab)
			}
		}
		n += len(s)
	}
	if p == model.PoolRank && e.clsOut == nil {
		return fmt.Errorf("model: rank pooling needs a classifier, which this model has not")
	}
	st := newScratch(n, d, h.FF, pool.Threads(), e.eps)
	x := st.x
	row, typ := make([]float32, d), make([]float32, d)
	if e.types != nil {
		e.types.RowFloat32(0, typ) // every token is of type 0
	}
	at := 0
	for _, s := range seqs {
		for j, t := range s {
			xr := x[(at+j)*d : (at+j+1)*d]
			e.tok.RowFloat32(int(t), xr)
			if e.types != nil {
				kernels.Add(xr, typ)
			}
			e.pos.RowFloat32(j, row)
			kernels.Add(xr, row)
		}
		at += len(s)
	}
	model.LayerNormRows(x, x, e.embNormW, e.embNormB, n, e.eps)
	for li := range e.layers {
		l := &e.layers[li]
		pool.MatMul3([3]*compute.Matrix{l.q, l.k, l.v}, x, n, [3][]float32{st.q, st.k, st.v}, st.qbuf)
		st.rows.run(pool, rowsQKVBias, n, l)
		st.attention(pool, seqs, h)
		pool.MatMul(l.o, st.att, n, st.y, st.qbuf)
		st.rows.run(pool, rowsAttnNorm, n, l)
		pool.MatMul(l.up, x, n, st.ff, st.qbuf)
		st.rows.run(pool, rowsGELU, n, l)
		pool.MatMul(l.down, st.ff, n, st.y, st.qbuf)
		st.rows.run(pool, rowsOutNorm, n, l)
	}
	at = 0
	for i, s := range seqs {
		states := x[at*d : (at+len(s))*d]
		at += len(s)
		if p != model.PoolRank {
			var err error
			if out[i], err = model.PoolStates(out[i], states, len(s), d, p); err != nil {
				return err
			}
			continue
		}
		first := states[:d]
		if e.cls != nil {
			pool.MatMul(e.cls, first, 1, row, st.qbuf)
			if e.clsB != nil {
				kernels.Add(row, e.clsB)
			}
			for j, v := range row {
				row[j] = float32(math.Tanh(float64(v)))
			}
			first = row
		}
		o := resize(out[i], e.clsOut.Rows)
		pool.MatMul(e.clsOut, first, 1, o, st.qbuf)
		if e.clsOutB != nil {
			kernels.Add(o, e.clsOutB)
		}
		out[i] = o
	}
	return nil
}

func resize(v []float32, n int) []float32 {
	if cap(v) >= n {
		return v[:n]
	}
	return make([]float32, n)
}

// scratch is the working memory of one Embed call.
type scratch struct {
	x, q, k, v, att, y, ff []float32
	scores                 [][]float32
	qbuf                   []byte
	job                    attnJob
	rows                   rowsJob
}

// The element-wise steps between the products, each run over the rows
// (tokens) in parallel: every row's arithmetic is what the serial
// sequence of AddBias, Add and LayerNormRows computes.
const (
	rowsQKVBias  = iota // q, k, v += their biases
	rowsAttnNorm        // x = LN(y + o bias + x)
	rowsGELU            // ff = GELU(ff + up bias)
	rowsOutNorm         // x = LN(y + down bias + x)
)

type rowsJob struct {
	s     *scratch
	d, ff int
	eps   float32
	step  int
	l     *layer
}

func (j *rowsJob) run(pool *compute.Pool, step, n int, l *layer) {
	j.step, j.l = step, l
	pool.Run(j, n, 1)
}

func (j *rowsJob) Run(_, lo, hi int) {
	s, l, d := j.s, j.l, j.d
	for r := lo; r < hi; r++ {
		row := func(v []float32, w int) []float32 { return v[r*w : (r+1)*w] }
		switch j.step {
		case rowsQKVBias:
			kernels.Add(row(s.q, d), l.qb)
			kernels.Add(row(s.k, d), l.kb)
			kernels.Add(row(s.v, d), l.vb)
		case rowsAttnNorm, rowsOutNorm:
			y, x := row(s.y, d), row(s.x, d)
			w, b := l.attnNormW, l.attnNormB
			if j.step == rowsAttnNorm {
				kernels.Add(y, l.ob)
			} else {
				kernels.Add(y, l.downB)
				w, b = l.layerNormW, l.layerNormB
			}
			kernels.Add(y, x)
			model.LayerNormRows(x, y, w, b, 1, j.eps)
		case rowsGELU:
			ff := row(s.ff, j.ff)
			kernels.Add(ff, l.upB)
			model.GELURow(ff)
		}
	}
}

func newScratch(n, d, ff, threads int, eps float32) *scratch {
	f := func(w int) []float32 { return make([]float32, n*w) }
	s := &scratch{x: f(d), q: f(d), k: f(d), v: f(d), att: f(d), y: f(d), ff: f(ff)}
	s.rows = rowsJob{s: s, d: d, ff: ff, eps: eps}
	s.qbuf = make([]byte, n*(4*max(d, ff)+512))
	s.scores = make([][]float32, threads)
	return s
}

// attention computes, for every token and head, softmax(q·k·scale) over
// the tokens of its own sequence, times their values, into s.att.
func (s *scratch) attention(pool *compute.Pool, seqs [][]int32, h *model.Hyper) {
	n := 0
	s.job.starts = s.job.starts[:0]
	for _, q := range seqs {
		s.job.starts = append(s.job.starts, n)
		n += len(q)
	}
	s.job.starts = append(s.job.starts, n)
	s.job.s, s.job.h = s, h
	pool.Run(&s.job, n*h.Heads, h.Heads)
}

type attnJob struct {
	s      *scratch
	h      *model.Hyper
	starts []int // first token of each sequence, then the total
}

func (j *attnJob) Run(worker, lo, hi int) {
	s, h := j.s, j.h
	d, hd := h.Embd, h.HeadDim
	for task := lo; task < hi; task++ {
		t, head := task/h.Heads, task%h.Heads
		seq := 0
		for j.starts[seq+1] <= t {
			seq++
		}
		first, end := j.starts[seq], j.starts[seq+1]
		if cap(s.scores[worker]) < end-first {
			s.scores[worker] = make([]float32, end-first)
		}
		sc := s.scores[worker][:end-first]
		qh := s.q[t*d+head*hd : t*d+(head+1)*hd]
		kernels.DotRows(sc, qh, s.k[first*d+head*hd:], d)
		for i := range sc {
			sc[i] *= h.AttnScale
		}
		kernels.Softmax(sc)
		o := s.att[t*d+head*hd : t*d+(head+1)*hd]
		clear(o)
		kernels.AXPYRows(o, sc, s.v[first*d+head*hd:], d)
	}
}
