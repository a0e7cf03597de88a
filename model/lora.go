package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/lora"
)

// Adaptable is a model whose matrices LoRA adapters can target: Matrices
// lists every matrix multiplied by activations through State.MatMul, each
// named as its tensor ("name[a:b]" for rows a..b of a fused tensor).
type Adaptable interface {
	Matrices() []*compute.Matrix
}

// Matrices implements Adaptable: the attention and dense feed-forward
// matrices of every layer, the routers of sparse layers and the output
// matrix unless it is the (tied) embedding.
func (d *Decoder) Matrices() []*compute.Matrix {
	var ms []*compute.Matrix
	add := func(m *compute.Matrix) {
		if m != nil {
			ms = append(ms, m)
		}
	}
	for i := range d.Layers {
		l := &d.Layers[i]
		for _, m := range []*compute.Matrix{l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down, l.Router} {
			add(m)
		}
	}
	if d.Output != d.Embedding {
		add(d.Output)
	}
	return ms
}

// Adapters are LoRA adapters bound to the matrices of one model: for each
// adapted matrix, the low-rank pairs of the adapters that touch it.
type Adapters struct {
	List   []*lora.Adapter
	deltas map[*compute.Matrix][]delta
	// The widest input, rank and output of any pair, for scratch sizes.
	maxIn, maxRank, maxOut int
}

// delta is one adapter's update of one matrix: s·alpha/rank·B·(A·x), s
// the sequence's scale of the adapter (alpha 0: s alone).
type delta struct {
	adapter     int
	a, b        *compute.Matrix
	alpha, rank float32
}

// BindLoRA binds adapters (already checked against the model's file with
// lora.Adapter.Check) to m's matrices. A target that m does not multiply
// through State.MatMul (the token embedding, experts) is refused by name.
func BindLoRA(m Model, adapters []*lora.Adapter) (*Adapters, error) {
	ad, ok := m.(Adaptable)
	if !ok {
		return nil, fmt.Errorf("model: the %s model does not take LoRA adapters", m.Hyper().Arch)
	}
	type part struct {
		m      *compute.Matrix
		lo, hi int // rows of the tensor; hi == 0: all of it
	}
	byName := map[string][]part{}
	for _, mx := range ad.Matrices() {
		name, lo, hi := splitRange(mx.Name)
		byName[name] = append(byName[name], part{mx, lo, hi})
	}
	set := &Adapters{List: adapters, deltas: map[*compute.Matrix][]delta{}}
	for ai, a := range adapters {
		for pi := range a.Pairs {
			p := &a.Pairs[pi]
			parts, ok := byName[p.Target]
			if !ok {
				return nil, fmt.Errorf("model: adapter %s adapts %s, which shimmer does not adapt (it adapts the attention, feed-forward, router and output matrices)", a.Name, p.Target)
			}
			for _, pt := range parts {
				b := p.B
				if pt.hi > 0 {
					rb := len(p.B.Data) / p.B.Rows
					var err error
					b, err = compute.NewMatrix(fmt.Sprintf("%s[%d:%d]", p.B.Name, pt.lo, pt.hi), p.B.Type, p.B.Cols, pt.hi-pt.lo, p.B.Data[pt.lo*rb:pt.hi*rb])
					if err != nil {
						return nil, fmt.Errorf("model: adapter %s: %w", a.Name, err)
					}
					b.Mapped = p.B.Mapped
				}
				if b.Rows != pt.m.Rows || p.A.Cols != pt.m.Cols {
					return nil, fmt.Errorf("model: adapter %s: %s is [%d %d] but the model's %s is [%d %d]", a.Name, p.Target, p.In, p.Out, pt.m.Name, pt.m.Cols, pt.m.Rows)
				}
				set.deltas[pt.m] = append(set.deltas[pt.m], delta{adapter: ai, a: p.A, b: b, alpha: a.Alpha, rank: float32(p.Rank)})
				set.maxIn = max(set.maxIn, p.In)
				set.maxRank = max(set.maxRank, p.Rank)
				set.maxOut = max(set.maxOut, b.Rows)
			}
		}
	}
	return set, nil
}

// splitRange parses "name[a:b]" (a part of a fused tensor, as
// Weights.Split names it) into name, a, b; other names have hi 0.
func splitRange(s string) (name string, lo, hi int) {
	open := strings.LastIndexByte(s, '[')
	if open < 0 || !strings.HasSuffix(s, "]") {
		return s, 0, 0
	}
	a, b, ok := strings.Cut(s[open+1:len(s)-1], ":")
	if !ok {
		return s, 0, 0
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || y <= x {
		return s, 0, 0
	}
	return s[:open], x, y
}

// loraState is a State's view of its adapters: the scale of each adapter
// for each sequence and the scratch of the low-rank products.
type loraState struct {
	set    *Adapters
	scales [][]float32 // [sequence][adapter]
	x      []float32   // gathered input rows [MaxBatch·maxIn]
	t      []float32   // A·x [MaxBatch·maxRank]
	u      []float32   // B·(A·x) [MaxBatch·maxOut]
	rows   []int32     // the rows an adapter applies to
	seqs   []int32     // the sequence of each row of a logits matmul
}

// SetLoRA gives the state a set of adapters (nil removes them), every
// sequence starting with scale 0 for each. It allocates the scratch of
// the low-rank products for MaxBatch rows.
func (s *State) SetLoRA(set *Adapters) error {
	if set == nil || len(set.deltas) == 0 {
		s.lora = nil
		return nil
	}
	if set.maxRank > len(s.QBuf)/max(1, s.MaxBatch)/4-128 {
		return fmt.Errorf("model: LoRA rank %d is wider than the model's activations", set.maxRank)
	}
	seqs := 1
	if s.Cache != nil {
		seqs = s.Cache.Seqs
	}
	l := &loraState{set: set, scales: make([][]float32, seqs)}
	for i := range l.scales {
		l.scales[i] = make([]float32, len(set.List))
	}
	l.x = make([]float32, s.MaxBatch*set.maxIn)
	l.t = make([]float32, s.MaxBatch*set.maxRank)
	l.u = make([]float32, s.MaxBatch*set.maxOut)
	l.rows = make([]int32, 0, s.MaxBatch)
	l.seqs = make([]int32, s.MaxBatch)
	s.lora = l
	return nil
}

// SetSequenceLoRA sets the scale of each adapter (in the order of the
// bound set; missing ones 0) for the entries of sequence seq.
func (s *State) SetSequenceLoRA(seq int, scales []float32) {
	if s.lora == nil || seq < 0 || seq >= len(s.lora.scales) {
		return
	}
	row := s.lora.scales[seq]
	clear(row)
	copy(row, scales)
}

// applyLoRA adds every bound adapter's update of w to the n rows out =
// w·x, each row with the scale its sequence gives the adapter. The rows
// an adapter applies to are gathered and multiplied as their own batch,
// so a row's result does not depend on the other rows (batch invariance).
func (s *State) applyLoRA(w *compute.Matrix, x []float32, n int, out []float32) {
	ds := s.lora.deltas(w)
	if len(ds) == 0 {
		return
	}
	l := s.lora
	seqs := s.rowSeqs(n)
	for _, d := range ds {
		rows := l.rows[:0]
		for i := 0; i < n; i++ {
			if l.scales[seqs[i]][d.adapter] != 0 {
				rows = append(rows, int32(i))
			}
		}
		if len(rows) == 0 {
			continue
		}
		in, m := d.a.Cols, len(rows)
		src := x
		if m < n {
			for k, i := range rows {
				copy(l.x[k*in:(k+1)*in], x[int(i)*in:(int(i)+1)*in])
			}
			src = l.x
		}
		r, o := d.a.Rows, d.b.Rows
		s.Pool.MatMul(d.a, src, m, l.t[:m*r], s.QBuf)
		s.Pool.MatMul(d.b, l.t[:m*r], m, l.u[:m*o], s.QBuf)
		for k, i := range rows {
			sc := l.scales[seqs[i]][d.adapter]
			if d.alpha != 0 {
				sc = sc * d.alpha / d.rank // as llama.cpp rounds it
			}
			y, u := out[int(i)*o:(int(i)+1)*o], l.u[k*o:(k+1)*o]
			for j := range y {
				y[j] += float32(u[j] * sc)
			}
		}
	}
}

func (l *loraState) deltas(w *compute.Matrix) []delta { return l.set.deltas[w] }

// rowSeqs returns the sequence of each of n rows multiplied in the
// current forward pass: the batch's entries, or the entries that want
// logits for the output matrix.
func (s *State) rowSeqs(n int) []int32 {
	b := s.batch
	if n == b.Len() {
		return b.Seq
	}
	if n == len(s.rows) {
		for k, i := range s.rows {
			s.lora.seqs[k] = b.Seq[i]
		}
		return s.lora.seqs[:n]
	}
	panic(fmt.Sprintf("model: an adapted matrix multiplied over %d rows of a batch of %d", n, b.Len()))
}
