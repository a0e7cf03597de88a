package archs_test

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/model"
)

// hostile rewrites a reference model with metadata keys set, as bytes.
func hostile(t testing.TB, name string, keys map[string]any) []byte {
	return rewriteBytes(t, name, keys, nil)
}

// hostileKeys are counts a hostile file may claim: each is refused before
// anything is sized from it.
var hostileKeys = []map[string]any{
	{"llama.block_count": uint32(1 << 28)},
	{"llama.block_count": uint32(1 << 24)},
	{"llama.block_count": uint64(math.MaxUint64)},
	{"llama.embedding_length": uint32(1 << 30)},
	{"llama.feed_forward_length": uint32(1 << 31)},
	{"llama.attention.head_count": uint32(1 << 26)},
	{"llama.attention.key_length": uint32(1 << 28)},
	{"llama.attention.head_count_kv": uint32(0)},
	{"llama.rope.dimension_count": uint32(1 << 30)},
}

// Files claiming huge counts fail to load with an error, quickly and
// without allocating for them (a block_count of 2^28 used to exhaust the
// memory).
func TestHostileCounts(t *testing.T) {
	for _, keys := range hostileKeys {
		b := hostile(t, "stories260K", keys)
		start := time.Now()
		f, err := gguf.Parse(b)
		if err != nil {
			t.Logf("%v: refused by the reader: %v", keys, err)
			continue
		}
		_, err = model.New(f)
		took := time.Since(start)
		if err == nil {
			t.Errorf("%v: loaded", keys)
			continue
		}
		t.Logf("%v: %v (%v)", keys, err, took.Round(time.Microsecond))
		if took > 2*time.Second { // it takes well under a millisecond: this catches a hang

			t.Errorf("%v: refusing took %v", keys, took)
		}
	}
}

// FuzzLoad: no file makes model loading panic or allocate without bound.
// The seeds are stories260K and the hostile variants above.
func FuzzLoad(f *testing.F) {
	if _, err := os.Stat(testdata.Path(f, "models", "stories260K.gguf")); err == nil {
		b, _ := os.ReadFile(testdata.Path(f, "models", "stories260K.gguf"))
		f.Add(b)
		for _, keys := range hostileKeys {
			f.Add(hostile(f, "stories260K", keys))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := gguf.Parse(b)
		if err != nil {
			return
		}
		if m, err := model.New(g); err == nil {
			_ = m.Hyper()
		}
	})
}
