package model

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/kernels"
)

// State is the working memory of forward passes over one KV cache: the
// thread pool, the cache, and scratch buffers sized once for batches of up
// to MaxBatch entries, so a forward pass allocates nothing. A State is used
// by one goroutine at a time.
type State struct {
	Pool     *compute.Pool
	Cache    *KVCache
	MaxBatch int
	H        *Hyper

	// Scratch rows, MaxBatch of each: the residual stream X and a normed
	// copy XB [Embd]; Q [QDim], K [KDim], V [VDim]; attention output Att
	// [Heads·ValueDim]; feed-forward FF1, FF2 [2·FF]; Out [Embd] for the
	// rows whose logits are wanted.
	X, XB, Q, K, V, Att, FF1, FF2, Out []float32
	// QBuf holds activations converted for quantized dot products.
	QBuf []byte

	scores  [][]float32 // per worker: attention scores of one tile's query groups (attnTile entries × Heads/KVHeads heads) × 64 positions
	softmax [][]float64 // per worker: the tile's running sums, then one block's
	smax    [][]float32 // per worker: the tile's running maxima, then one block's rescale factors
	tiles   []int32     // attention tiles: each one's first batch entry, then the batch's length
	deq     [][]float32 // per worker, F16 and Q8_0 caches: a key head's block [HeadDim][64], then 64 value heads [64][ValueDim], as float32

	// Sparse feed-forward scratch: router logits [MaxBatch·Experts]; per
	// token and slot the chosen expert and its weight [MaxBatch·Used]; the
	// (token, slot) entries sorted by expert with the experts' starts; one
	// expert's gathered input rows and output rows [MaxBatch·Embd]; the
	// outputs of every token and slot [MaxBatch·Used·Embd].
	moeLogits            []float32
	moeSel               []int32
	moeW                 []float32
	moeOrder             []int32
	moeStart, moeNext    []int
	moeX, moeY, moeSlots []float32
	rope                 [2][]float32
	att                  attentionJob
	store                storeJob
	rowJob               rowJob
	rows                 []int32 // batch entries that want logits
	batch                *Batch  // the batch of the current forward pass (set by Check)
	lora                 *loraState
}

// NewState allocates the scratch state of a forward pass for model h, the
// given cache and batches of up to maxBatch entries.
func NewState(h *Hyper, pool *compute.Pool, cache *KVCache, maxBatch int) (*State, error) {
	if maxBatch <= 0 {
		return nil, fmt.Errorf("model: batch size %d", maxBatch)
	}
	s := &State{Pool: pool, Cache: cache, MaxBatch: maxBatch, H: h}
	f := func(w int) []float32 { return make([]float32, maxBatch*w) }
	s.X, s.XB, s.Out = f(h.Embd), f(h.Embd), f(h.Embd)
	s.Q, s.K, s.V = f(h.QDim()), f(h.KDim()), f(h.VDim())
	s.Att = f(h.Heads * h.ValueDim)
	s.FF1, s.FF2 = f(2*h.FF), f(2*h.FF)
	widest := max(h.Embd, h.QDim(), h.Heads*h.ValueDim, 2*h.FF)
	// Four bytes per element covers every activation layout (the SIMD
	// F16/BF16 kernels take float32 rows; Q8_0, Q8_K and the int8 tile
	// layout take less), plus one block of slack.
	s.QBuf = make([]byte, maxBatch*(4*widest+512))
	group := max(1, h.Heads/max(1, h.KVHeads))
	s.scores = make([][]float32, pool.Threads())
	s.softmax = make([][]float64, pool.Threads())
	s.smax = make([][]float32, pool.Threads())
	for i := range s.scores {
		s.scores[i] = make([]float32, attnTile*group*kernels.AttnBlock)
		s.softmax[i] = make([]float64, 2*attnTile*group)
		s.smax[i] = make([]float32, 2*attnTile*group)
	}
	s.tiles = make([]int32, 0, maxBatch+1)
	if cache != nil && (cache.k8 != nil || cache.v8 != nil || cache.k16 != nil || cache.v16 != nil) {
		s.deq = make([][]float32, pool.Threads())
		for i := range s.deq {
			s.deq[i] = make([]float32, (h.HeadDim+h.ValueDim)*kernels.AttnBlock)
		}
	}
	for i := range s.rope {
		s.rope[i] = make([]float32, maxBatch*h.RopeDims)
	}
	s.rows = make([]int32, 0, maxBatch)
	if h.Experts > 0 {
		k := h.ExpertsUsed
		s.moeLogits = make([]float32, maxBatch*h.Experts)
		s.moeSel, s.moeW, s.moeOrder = make([]int32, maxBatch*k), make([]float32, maxBatch*k), make([]int32, maxBatch*k)
		s.moeStart, s.moeNext = make([]int, h.Experts+1), make([]int, h.Experts)
		s.moeX, s.moeY = f(h.Embd), f(h.Embd)
		s.moeSlots = make([]float32, maxBatch*k*h.Embd)
	}
	return s, nil
}

// Check validates a batch against the state: sizes, token ids, positions
// and sequence slots.
func (s *State) Check(b *Batch) error {
	n := b.Len()
	s.batch = b
	if n == 0 {
		return fmt.Errorf("model: empty batch")
	}
	if n > s.MaxBatch {
		return fmt.Errorf("model: batch of %d entries exceeds the batch size %d", n, s.MaxBatch)
	}
	if len(b.Pos) != n || len(b.Seq) != n || len(b.Logits) != n {
		return fmt.Errorf("model: batch fields have different lengths")
	}
	for i := 0; i < n; i++ {
		if t := b.Tokens[i]; t < 0 || int(t) >= s.H.Vocab {
			return fmt.Errorf("model: token id %d out of range [0, %d)", t, s.H.Vocab)
		}
		if p := b.Pos[i]; p < 0 || int(p) >= s.Cache.Ctx {
			return fmt.Errorf("model: position %d outside the context of %d", p, s.Cache.Ctx)
		}
		if q := b.Seq[i]; q < 0 || int(q) >= s.Cache.Seqs {
			return fmt.Errorf("model: sequence %d outside the %d cache slots", q, s.Cache.Seqs)
		}
	}
	return nil
}

// LogitRows gathers the residual rows of entries that want logits into Out
// and returns how many there are.
func (s *State) LogitRows(b *Batch) int {
	e := s.H.Embd
	s.rows = s.rows[:0]
	for i, want := range b.Logits {
		if want {
			copy(s.Out[len(s.rows)*e:(len(s.rows)+1)*e], s.X[i*e:(i+1)*e])
			s.rows = append(s.rows, int32(i))
		}
	}
	return len(s.rows)
}
