package compute

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
)

// BenchmarkMatMulStream multiplies 1 or 8 tokens with 2048×5632 matrices
// (TinyLlama's FFN down shape) on two threads, cycling through copies of
// one matrix that together take 1 GiB, beyond the caches (the Xeon
// measured reports a 480 MiB L3), so the weights come from memory as in
// decode; "hot" repeats a single copy (from the last-level cache).
// It reports the weight read rate and the multiply-adds per second:
//
//	go test ./compute -run - -bench MatMulStream -benchtime 3x
func BenchmarkMatMulStream(b *testing.B) {
	const rows, cols = 2048, 5632
	for _, typ := range []gguf.Type{gguf.TypeQ4_0, gguf.TypeQ8_0, gguf.TypeBF16} {
		r := rand.New(rand.NewPCG(1, 2))
		w, _ := randMatrix(b, typ, rows, cols, r)
		if w.k == nil {
			b.Skip("no tile kernel on this CPU")
		}
		copies := (1<<30 + len(w.Data) - 1) / len(w.Data)
		ms := []*Matrix{w}
		for i := 1; i < copies; i++ {
			m, err := NewMatrix("w", typ, cols, rows, append([]byte(nil), w.Data...))
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, m)
		}
		for _, n := range []int{1, 8} {
			for _, hot := range []bool{false, true} {
				name := fmt.Sprintf("%s/n%d/cold", typ, n)
				use := ms
				if hot {
					name, use = fmt.Sprintf("%s/n%d/hot", typ, n), ms[:1]
				}
				b.Run(name, func(b *testing.B) {
					p := NewPool(2)
					defer p.Close()
					x := randRows(n, cols, r)
					out := make([]float32, n*rows)
					q := make([]byte, w.ActivationBytes(n))
					for _, m := range use {
						p.MatMul(m, x, n, out, q) // repack outside the timing
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						for c := 0; c < copies; c++ {
							p.MatMul(use[c%len(use)], x, n, out, q)
						}
					}
					calls := float64(b.N) * float64(copies)
					s := b.Elapsed().Seconds()
					b.ReportMetric(calls*float64(len(w.Data))/s/1e9, "GB/s")
					b.ReportMetric(calls*rows*cols*float64(n)/s/1e9, "GMAC/s")
				})
			}
		}
	}
}
