package model

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
)

// The keys and values a prompt stores in pieces on several threads are
// those that storing its entries one by one in order leaves in the cache,
// for every cache type, over two sequences and a sliding-window ring.
func TestStoreJobSplit(t *testing.T) {
	h := &Hyper{Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 64, ValueDim: 64, Window: 40, SWA: []bool{false, true}}
	const ctx, maxBatch = 300, 200
	var b Batch
	for i := range 150 { // sequence 0 at positions 0..149, then 1 at 10..59
		b.Add(int32(i), int32(i), 0, false)
	}
	for i := range 50 {
		b.Add(int32(i), int32(10+i), 1, false)
	}
	r := rand.New(rand.NewPCG(1, 2))
	k, v := make([]float32, b.Len()*h.KDim()), make([]float32, b.Len()*h.VDim())
	for i := range k {
		k[i], v[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	pool := compute.NewPool(3)
	defer pool.Close()
	for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0} {
		types := CacheTypes{K: typ, V: typ}
		serial, err := NewKVCache(h, 2, ctx, maxBatch, types)
		if err != nil {
			t.Fatal(err)
		}
		split, err := NewKVCache(h, 2, ctx, maxBatch, types)
		if err != nil {
			t.Fatal(err)
		}
		for l := range h.Layers {
			for i := range b.Len() {
				serial.Store(l, int(b.Seq[i]), int(b.Pos[i]), k[i*h.KDim():(i+1)*h.KDim()], v[i*h.VDim():(i+1)*h.VDim()])
			}
			job := storeJob{c: split, l: l, b: &b, k: k, v: v}
			pool.Run(&job, b.Len(), 7) // pieces that straddle key blocks
		}
		if !reflect.DeepEqual(serial, split) {
			t.Errorf("%v cache: the split stores differ from the serial ones", typ)
		}
	}
}
