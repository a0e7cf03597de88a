package compute

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
)

// recSide records the side items: every A item once, every B item once,
// and no B item before all A items are done.
type recSide struct {
	mu      sync.Mutex
	a, b    []int
	aDone   atomic.Int64
	na      int
	early   atomic.Bool
	workers [8]atomic.Int64
}

func (s *recSide) SideA(w, i int) {
	s.mu.Lock()
	s.a = append(s.a, i)
	s.mu.Unlock()
	s.aDone.Add(1)
}

func (s *recSide) SideB(w, i int) {
	if s.aDone.Load() != int64(s.na) {
		s.early.Store(true)
	}
	s.mu.Lock()
	s.b = append(s.b, i)
	s.mu.Unlock()
}

// MatMul3Side gives MatMul3's products and runs every side item once, the
// B items only after all A items, over the pool's threads, for decode
// (one token) and a batch, with and without the tile kernels.
func TestMatMul3Side(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := NewPool(2)
	defer p.Close()
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeF16} {
		w0, g0 := randMatrix(t, typ, 512, 1024, r)
		w1, g1 := randMatrix(t, typ, 256, 1024, r)
		for _, n := range []int{1, 3} {
			for _, ws := range [][3]*Matrix{{w0, w1, nil}, {g0, g1, nil}} {
				x := randRows(n, 1024, r)
				qbuf := make([]byte, n*8192)
				want := [3][]float32{make([]float32, n*512), make([]float32, n*256)}
				p.MatMul3(ws, x, n, want, qbuf)
				got := [3][]float32{make([]float32, n*512), make([]float32, n*256)}
				s := &recSide{na: 37}
				p.MatMul3Side(ws, x, n, got, qbuf, s, 37, 23)
				slices.Sort(s.a)
				slices.Sort(s.b)
				if !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
					t.Errorf("%s n %d: products differ from MatMul3's", typ, n)
				}
				if len(s.a) != 37 || len(s.b) != 23 || s.a[36] != 36 || s.b[22] != 22 || s.early.Load() {
					t.Errorf("%s n %d: side items A %v, B %v, B before A done: %v", typ, n, s.a, s.b, s.early.Load())
				}
			}
		}
	}
}
