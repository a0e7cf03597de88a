package lora_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/lora"
)

// The test data's adapters read as MODELS.md describes them: tiny-llama's
// rank 4, alpha 8 on attn_q, attn_v, attn_output and ffn_down of its 3
// layers (F32); tiny-qwen3's rank 8, alpha 16 on all 7 matrices (F16).
func TestOpen(t *testing.T) {
	for _, c := range []struct {
		name         string
		arch         string
		rank, pairs  int
		alpha, scale float32
		typ          gguf.Type
	}{
		{"tiny-llama-lora", "llama", 4, 12, 8, 2, gguf.TypeF32},
		{"tiny-qwen3-lora", "qwen3", 8, 21, 16, 2, gguf.TypeF16},
	} {
		a, err := lora.Open(testdata.Path(t, "models", c.name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := a.Ranks()
		if a.Arch != c.arch || lo != c.rank || hi != c.rank || len(a.Pairs) != c.pairs || a.Alpha != c.alpha || a.Name != c.name {
			t.Errorf("%s: %+v ranks %d–%d", c.name, a, lo, hi)
		}
		p := &a.Pairs[0]
		if p.A.Type != c.typ || p.A.Rows != c.rank || p.B.Cols != c.rank || a.Scale(p, 1) != c.scale || a.Scale(p, 0.5) != c.scale/2 {
			t.Errorf("%s: pair %s: A %s [%d %d], B [%d %d], scale %g", c.name, p.Target, p.A.Type, p.A.Cols, p.A.Rows, p.B.Cols, p.B.Rows, a.Scale(p, 1))
		}
		a.Close()
	}
}

// Damaged adapter files (bytes flipped anywhere, or cut short) are
// refused with an error or read; none panics.
func TestHostileAdapters(t *testing.T) {
	good, err := os.ReadFile(testdata.Path(t, "models", "tiny-llama-lora.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		b := append([]byte(nil), good...)
		switch i % 3 {
		case 0:
			b = b[:r.IntN(len(b))]
		default:
			for k := 0; k < 1+r.IntN(8); k++ {
				b[r.IntN(min(len(b), 2048))] = byte(r.Uint32())
			}
		}
		f, err := gguf.Parse(b)
		if err != nil {
			continue
		}
		if a, err := lora.FromFile(f, "x.gguf"); err == nil {
			a.Ranks()
		}
	}
}
