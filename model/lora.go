package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/kernels"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/quant"
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
	// A float B (F32, F16, BF16) is kept transposed, in blocks of 64
	// output columns, [out/64][rank][64], as F16 (bt16, for an F16 B) or
	// float32 (bt32): B·t is then, per block, rank multiply-adds of 64
	// outputs read from one contiguous run (kernels.AttnPV, as attention
	// weighs a block of values), where the matrix kernels would take a
	// dot product of rank values per output row, several times slower. round is how llama.cpp rounds t for that
	// product (to F16 or BF16, its activation type for such a B). A
	// quantized B keeps the matrix product (and its rounding of t to the
	// block type, as llama.cpp's).
	bt16  []uint16
	bt32  []float32
	round gguf.Type
	// atr is A's type, xtr the type A·x converts the input rows to.
	atr, xtr *quant.Traits
	// An F16 or F32 A whose rows are a multiple of 16 long is kept as
	// a16 or a32 and multiplied as llama.cpp's AVX-512 kernel multiplies
	// it (kernels.DotF16Lanes16: the input rounded to F16, 16 lanes of
	// fused multiply-adds, its lane sum); other A types by quant's dot
	// product.
	a16 []uint16
	a32 []float32
	// order is the place of the update in a forward pass (the matrix's,
	// then the adapter's), for laying the copies out in reading order.
	order int
}

// copyA fills d.a16 or d.a32 from an F16 or F32 A.
func (d *delta) copyA() {
	a := d.a
	if a.Cols%16 != 0 {
		return
	}
	switch a.Type {
	case gguf.TypeF16:
		d.a16 = make([]uint16, a.Rows*a.Cols)
		for r := 0; r < a.Rows; r++ {
			row := a.Row(r)
			for c := range a.Cols {
				d.a16[r*a.Cols+c] = uint16(row[2*c]) | uint16(row[2*c+1])<<8
			}
		}
	case gguf.TypeF32:
		d.a32 = make([]float32, a.Rows*a.Cols)
		for r := 0; r < a.Rows; r++ {
			a.RowFloat32(r, d.a32[r*a.Cols:(r+1)*a.Cols])
		}
	}
}

// transposeB fills d's transposed B, exactly (F16 stays F16; BF16
// widens to float32 without rounding). Element (c, j) of B·t's sum, rank
// c and output j, is at btAt(r, c, j); the last block is zero-padded.
func (d *delta) transposeB() {
	b := d.b
	r, o := b.Cols, b.Rows
	size := (o + kernels.AttnBlock - 1) / kernels.AttnBlock * kernels.AttnBlock * r
	switch b.Type {
	case gguf.TypeF16:
		d.bt16 = make([]uint16, size)
		for j := 0; j < o; j++ {
			row := b.Row(j)
			for c := 0; c < r; c++ {
				d.bt16[btAt(r, c, j)] = uint16(row[2*c]) | uint16(row[2*c+1])<<8
			}
		}
	case gguf.TypeF32, gguf.TypeBF16:
		d.bt32 = make([]float32, size)
		row := make([]float32, r)
		for j := 0; j < o; j++ {
			b.RowFloat32(j, row)
			for c, v := range row {
				d.bt32[btAt(r, c, j)] = v
			}
		}
	}
	d.round = b.Type
}

// btAt is where rank c of output j is kept in a transposed B of rank r.
func btAt(r, c, j int) int {
	return (j/kernels.AttnBlock*r+c)*kernels.AttnBlock + j%kernels.AttnBlock
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
	order := map[*compute.Matrix]int{}
	for i, mx := range ad.Matrices() {
		order[mx] = i
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
				d := delta{adapter: ai, a: p.A, b: b, alpha: a.Alpha, rank: float32(p.Rank), order: order[pt.m]*len(adapters) + ai}
				d.transposeB()
				d.copyA()
				var err error
				if d.atr, err = quant.Lookup(p.A.Type); err == nil {
					d.xtr, err = quant.Lookup(d.atr.VecDotType)
				}
				if err != nil {
					return nil, fmt.Errorf("model: adapter %s: %s: %w", a.Name, p.A.Name, err)
				}
				set.deltas[pt.m] = append(set.deltas[pt.m], d)
				set.maxIn = max(set.maxIn, p.In)
				set.maxRank = max(set.maxRank, p.Rank)
				set.maxOut = max(set.maxOut, b.Rows)
			}
		}
	}
	set.arena()
	return set, nil
}

// arena moves the F16 copies of every delta (A rows and transposed B)
// into one block on huge pages, in the order the forward pass reads them.
func (set *Adapters) arena() {
	var ds []*delta
	n := 0
	for _, list := range set.deltas {
		for i := range list {
			ds = append(ds, &list[i])
			n += len(list[i].a16) + len(list[i].bt16)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].order < ds[j].order })
	block := compute.HugeUint16s(n)
	for _, d := range ds {
		if d.a16 != nil {
			d.a16 = block[:copy(block, d.a16):len(d.a16)]
			block = block[len(d.a16):]
		}
		if d.bt16 != nil {
			d.bt16 = block[:copy(block, d.bt16):len(d.bt16)]
			block = block[len(d.bt16):]
		}
	}
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
	// xq holds the input rows converted to each activation type the A
	// matrices take (quant's VecDotType), [MaxBatch][row bytes] each.
	xq     map[gguf.Type][]byte
	x16    []uint16    // the input rows rounded to F16, for a16 matrices
	calls  []loraCall  // the updates of the current multiplication
	uSide  []float32   // the calls' u on the decode path (adaptedMatMul)
	rowBuf []int32     // the rows of each call
	pBuf   []float32   // A·x of each call, in kernels.AttnPV's layout
	t      []float32   // A·x [MaxBatch·maxRank] for a quantized B's product
	u      []float32   // B·(A·x) [MaxBatch·maxOut] for a quantized B
	uw     [][]float32 // per worker: one piece of B·(A·x) [MaxBatch·loraBChunk]
	seqs   []int32     // the sequence of each row of a logits matmul
	ajob   loraAJob
	bjob   loraBJob
}

// loraCall is one adapter's update of one matrix in a multiplication:
// the delta, the output rows it adds to, the rows it applies to and their
// A·x.
type loraCall struct {
	d    *delta
	out  []float32 // the multiplication's output [n][d.b.Rows]
	rows []int32   // rows of the batch with a non-zero scale
	sc   []float32 // the scale of each of rows (s·alpha/rank)
	p    []float32 // A·x of rows: [rank/64 blocks][len(rows)][64], rounded for B
	t    []float32 // A·x of rows [len(rows)][rank] (quantized B only)
	xq   []byte    // the input rows in A's activation type
	xrb  int       // bytes per row of xq
	x    []float32 // the input rows
	u    []float32 // B·(A·x) of rows [len(rows)][out] (decode path)
}

// SetLoRA gives the state a set of adapters (nil removes them), every
// sequence starting with scale 0 for each. It allocates the scratch of
// the low-rank products for MaxBatch rows.
func (s *State) SetLoRA(set *Adapters) error {
	if set == nil || len(set.deltas) == 0 {
		s.lora = nil
		return nil
	}
	seqs := 1
	if s.Cache != nil {
		seqs = s.Cache.Seqs
	}
	l := &loraState{set: set, scales: make([][]float32, seqs), xq: map[gguf.Type][]byte{}}
	for i := range l.scales {
		l.scales[i] = make([]float32, len(set.List))
	}
	// A multiplication has up to three matrices, each adapted by every
	// adapter at most once.
	calls := 3 * len(set.List)
	for _, ds := range set.deltas {
		for i := range ds {
			xt := ds[i].xtr
			if _, ok := l.xq[xt.Type]; !ok {
				l.xq[xt.Type] = make([]byte, s.MaxBatch*xt.RowBytes(set.maxIn))
			}
		}
	}
	l.x16 = make([]uint16, s.MaxBatch*set.maxIn)
	l.uSide = make([]float32, calls*min(s.MaxBatch, loraSideTokens)*set.maxOut)
	blocks := (set.maxRank + kernels.AttnBlock - 1) / kernels.AttnBlock
	l.calls = make([]loraCall, 0, calls)
	l.rowBuf = make([]int32, calls*s.MaxBatch)
	l.pBuf = make([]float32, calls*s.MaxBatch*(1+blocks*kernels.AttnBlock))
	l.t = make([]float32, calls*s.MaxBatch*set.maxRank)
	l.u = make([]float32, s.MaxBatch*set.maxOut)
	l.uw = make([][]float32, s.Pool.Threads())
	for i := range l.uw {
		l.uw[i] = make([]float32, s.MaxBatch*loraBChunk)
	}
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

// adaptedMatMul is MatMul3 with every bound adapter's update of ws[i]
// added to the n rows of outs[i] = ws[i]·x (nil matrices skipped), each
// row with the scale its sequence gives the adapter: outs[i] +=
// s·alpha/rank·B·(A·x), as llama.cpp adds it (the product scaled, then
// added). For a few rows (decode) the updates ride along the products'
// parallel pass (compute.Pool.MatMul3Side), where a pass of the pool of
// their own would cost more than their work; for more rows they run as
// passes of their own after the products. Both take every product row by
// row in the same order, so a row's result depends only on its own input
// row (batch invariance) and not on the path.
func (s *State) adaptedMatMul(ws [3]*compute.Matrix, x []float32, n int, outs [3][]float32) {
	l := s.lora
	aItems := l.prepare(s, ws, x, n, outs)
	if len(l.calls) == 0 {
		s.Pool.MatMul3(ws, x, n, outs, s.QBuf)
		return
	}
	defer l.done()
	if n <= loraSideTokens {
		// A·x, then B·(A·x) into each call's u, in the products' pass;
		// the scaled additions after it.
		_, pieces := l.floatB()
		l.ajob, l.bjob = loraAJob{l: l}, loraBJob{l: l, toU: true}
		s.Pool.MatMul3Side(ws, x, n, outs, s.QBuf, (*loraSide)(l), aItems, pieces)
		l.quantizedB(s)
		for ci := range l.calls {
			if c := &l.calls[ci]; c.t == nil {
				o := c.d.b.Rows
				for k, i := range c.rows {
					addScaled(c.out[int(i)*o:(int(i)+1)*o], c.u[k*o:(k+1)*o], c.sc[k])
				}
			}
		}
		return
	}
	s.Pool.MatMul3(ws, x, n, outs, s.QBuf)
	// A·x: one item per row of each A.
	work := 0
	for _, c := range l.calls {
		work += len(c.rows) * c.d.a.Rows * c.d.a.Cols
	}
	l.ajob = loraAJob{l: l}
	s.Pool.RunWork(&l.ajob, aItems, max(1, aItems/(2*s.Pool.Threads())), work)
	// B·(A·x), scaled and added: quantized B by the matrix kernels, then
	// float B in pieces of output columns, all updates of a matrix in one
	// piece in adapter order.
	l.quantizedB(s)
	if work, pieces := l.floatB(); work > 0 {
		l.bjob = loraBJob{l: l}
		s.Pool.RunWork(&l.bjob, pieces, 1, work)
	}
}

// addScaled adds u·sc to y: the product rounded, then the sum, as
// llama.cpp's ggml_scale then ggml_add (u is scratch and is scaled in
// place).
func addScaled(y, u []float32, sc float32) {
	kernels.Scale(u, sc)
	kernels.Add(y, u)
}

// loraSideTokens is the most rows whose updates ride along the products' pass.
const loraSideTokens = 8

// loraSide is a loraState as the side work of a multiplication.
type loraSide loraState

func (l *loraSide) SideA(worker, i int) { l.ajob.Run(worker, i, i+1) }
func (l *loraSide) SideB(worker, i int) { l.bjob.Run(worker, i, i+1) }

// prepare lists the updates of ws (l.calls): for each, the rows it
// applies to and their scales, with the input rows converted for A; it
// returns the number of A rows in all.
func (l *loraState) prepare(s *State, ws [3]*compute.Matrix, x []float32, n int, outs [3][]float32) int {
	l.calls = l.calls[:0]
	var seqs []int32
	rowAt, pAt, uAt, tAt, aItems := 0, 0, 0, 0, 0
	// The activation types the input rows were converted to (an adapter
	// set has few; more than four reconverts, which is correct, only
	// slower).
	var converted [4]gguf.Type
	nconv := 0
	isConverted := func(t gguf.Type) bool {
		for _, c := range converted[:nconv] {
			if c == t {
				return true
			}
		}
		return false
	}
	for wi, w := range ws {
		if w == nil {
			continue
		}
		ds := l.set.deltas[w]
		for di := range ds {
			d := &ds[di]
			if seqs == nil {
				seqs = s.rowSeqs(n)
			}
			c := loraCall{d: d, out: outs[wi]}
			rows := l.rowBuf[rowAt:rowAt]
			for i := 0; i < n; i++ {
				if l.scales[seqs[i]][d.adapter] != 0 {
					rows = append(rows, int32(i))
				}
			}
			if len(rows) == 0 {
				continue
			}
			m, r := len(rows), d.a.Rows
			c.rows = rows
			rowAt += m
			// The scales, then A·x, share pBuf.
			c.sc = l.pBuf[pAt : pAt+m]
			pAt += m
			for k, i := range rows {
				sc := l.scales[seqs[i]][d.adapter]
				if d.alpha != 0 {
					sc = sc * d.alpha / d.rank // as llama.cpp rounds it
				}
				c.sc[k] = sc
			}
			blocks := (r + kernels.AttnBlock - 1) / kernels.AttnBlock
			c.p = l.pBuf[pAt : pAt+blocks*m*kernels.AttnBlock]
			pAt += len(c.p)
			if d.bt16 == nil && d.bt32 == nil {
				c.t = l.t[tAt : tAt+m*r]
				tAt += m * r
			} else if n <= loraSideTokens {
				o := d.b.Rows
				c.u = l.uSide[uAt : uAt+m*o]
				uAt += m * o
			}
			c.x = x
			c.xq, c.xrb = l.xq[d.xtr.Type], d.xtr.RowBytes(d.a.Cols)
			conv := d.xtr.Type
			if d.a16 != nil {
				conv = x16Marker
			}
			if d.a32 == nil && !isConverted(conv) {
				if nconv < len(converted) {
					converted[nconv] = conv
					nconv++
				}
				in := d.a.Cols
				if d.a16 != nil {
					quant.FP32ToFP16Row(l.x16[:n*in], x[:n*in])
				} else {
					for i := 0; i < n; i++ {
						d.xtr.QuantizeActivation(c.xq[i*c.xrb:(i+1)*c.xrb], x[i*in:(i+1)*in])
					}
				}
			}
			l.calls = append(l.calls, c)
			aItems += (r + loraARows - 1) / loraARows
		}
	}
	return aItems
}

// quantizedB adds the updates whose B is quantized: B·(A·x) by the
// matrix kernels, scaled, added to the output rows.
func (l *loraState) quantizedB(s *State) {
	for ci := range l.calls {
		c := &l.calls[ci]
		if c.t == nil {
			continue
		}
		o, m := c.d.b.Rows, len(c.rows)
		s.Pool.MatMul(c.d.b, c.t, m, l.u[:m*o], s.QBuf)
		for k, i := range c.rows {
			addScaled(c.out[int(i)*o:(int(i)+1)*o], l.u[k*o:(k+1)*o], c.sc[k])
		}
	}
}

// floatB returns the multiply-adds of the float-B products and the
// pieces loraBJob takes them in (per output matrix, loraBChunk columns).
func (l *loraState) floatB() (work, pieces int) {
	for ci := range l.calls {
		c := &l.calls[ci]
		o := c.d.b.Rows
		if ci == 0 || &l.calls[ci-1].out[0] != &c.out[0] {
			pieces += (o + loraBChunk - 1) / loraBChunk // as loraBJob counts them
		}
		if c.t == nil {
			work += len(c.rows) * c.d.b.Cols * o
		}
	}
	return work, pieces
}

// done drops the references of the multiplication's calls.
func (l *loraState) done() {
	l.ajob, l.bjob = loraAJob{}, loraBJob{}
	for i := range l.calls {
		l.calls[i] = loraCall{}
	}
}

// x16Marker stands for the F16 rows of loraState.x16 among the converted
// activation types (no GGUF type has its value).
const x16Marker = gguf.Type(1 << 31)

// loraAJob computes A·x of every call: item k is rows [4k, 4k+4) of the
// calls' A matrices in turn (loraARows). Each value is one dot product of quant's (the A row
// and the input row in A's activation type), stored rounded as llama.cpp
// rounds the activations of B's type.
type loraAJob struct{ l *loraState }

func (j *loraAJob) Run(_, lo, hi int) {
	item := 0
	for ci := range j.l.calls {
		c := &j.l.calls[ci]
		r := c.d.a.Rows
		ni := (r + loraARows - 1) / loraARows
		if item+ni <= lo {
			item += ni
			continue
		}
		if item >= hi {
			return
		}
		a, in, m := c.d.a, c.d.a.Cols, len(c.rows)
		for row := max(lo-item, 0) * loraARows; row < min(min(hi-item, ni)*loraARows, r); row++ {
			blk, lane := row/kernels.AttnBlock, row%kernels.AttnBlock
			for k, i := range c.rows {
				var v float32
				switch {
				case c.d.a16 != nil:
					v = kernels.DotF16Lanes16(c.d.a16[row*in:(row+1)*in], j.l.x16[int(i)*in:(int(i)+1)*in])
				case c.d.a32 != nil:
					v = kernels.DotF32Lanes16(c.d.a32[row*in:(row+1)*in], c.x[int(i)*in:(int(i)+1)*in])
				default:
					v = c.d.atr.VecDot(in, a.Row(row), c.xq[int(i)*c.xrb:(int(i)+1)*c.xrb])
				}
				if c.t != nil {
					c.t[k*r+row] = v
					continue
				}
				switch c.d.round {
				case gguf.TypeF16:
					v = quant.FP16ToFP32(quant.FP32ToFP16(v))
				case gguf.TypeBF16:
					v = quant.BF16ToFP32(quant.FP32ToBF16(v))
				}
				c.p[(blk*m+k)*kernels.AttnBlock+lane] = v
			}
		}
		item += ni
	}
}

// loraARows is the rows of A one item of loraAJob takes.
const loraARows = 4

// loraBChunk is the output columns of one piece of a B product (a
// multiple of the 64-column blocks).
const loraBChunk = 512

// loraBJob computes B·(A·x) of the calls with a float B over pieces of
// loraBChunk output columns of each output matrix, and adds it, scaled,
// to the rows of the output; the calls that share an output matrix are
// taken in order within each piece.
type loraBJob struct {
	l *loraState
	// toU leaves each call's B·(A·x) in its u for the caller to scale
	// and add (the decode path of adaptedMatMul), instead of adding it here.
	toU bool
}

func (j *loraBJob) Run(worker, lo, hi int) {
	const B = kernels.AttnBlock
	calls := j.l.calls
	piece := 0
	for ci := 0; ci < len(calls); {
		// The calls [ci, cj) add to one output matrix.
		cj := ci + 1
		for cj < len(calls) && &calls[cj].out[0] == &calls[ci].out[0] {
			cj++
		}
		o := calls[ci].d.b.Rows
		np := (o + loraBChunk - 1) / loraBChunk
		for pc := max(lo-piece, 0); pc < min(hi-piece, np); pc++ {
			c0, c1 := pc*loraBChunk, min(o, (pc+1)*loraBChunk)
			for k := ci; k < cj; k++ {
				c := &calls[k]
				if c.t != nil {
					continue // a quantized B, done by the matrix kernels
				}
				m, r, width := len(c.rows), c.d.b.Cols, c1-c0
				u, ldu, uc := j.l.uw[worker][:m*width], width, 0
				if j.toU {
					u, ldu, uc = c.u, o, c0
				}
				for k := 0; k < m; k++ {
					clear(u[k*ldu+uc : k*ldu+uc+width])
				}
				for col := c0; col < c1; col += B {
					w := min(B, c1-col)
					for blk := 0; blk*B < r; blk++ {
						n := min(B, r-blk*B)
						p := c.p[blk*m*B:]
						at := btAt(r, blk*B, col)
						if c.d.bt16 != nil {
							kernels.AttnPVF16(u[uc+col-c0:], m, ldu, p, c.d.bt16[at:], B, n, w)
						} else {
							kernels.AttnPV(u[uc+col-c0:], m, ldu, p, c.d.bt32[at:], B, n, w)
						}
					}
				}
				if j.toU {
					continue
				}
				for kk, i := range c.rows {
					addScaled(c.out[int(i)*o+c0:int(i)*o+c1], u[kk*width:(kk+1)*width], c.sc[kk])
				}
			}
		}
		piece += np
		if piece >= hi {
			return
		}
		ci = cj
	}
}

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
