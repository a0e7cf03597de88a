// Package lora reads LoRA adapters in the GGUF layout llama.cpp's
// converter writes: general.type "adapter", adapter.type "lora",
// adapter.lora.alpha, general.architecture naming the base model's
// architecture, and for each adapted weight W (ggml ne [in, out]) the
// tensors <W>.lora_a (ne [in, rank]) and <W>.lora_b (ne [rank, out]).
//
// An adapter changes W·x into W·x + s·(alpha/rank)·B·(A·x), s the user's
// scale; the model package applies it on the activations (the base
// weights stay as they are, mapped and shared).
package lora

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/gguf"
)

// MaxRank bounds an adapter's rank (far above any published adapter's),
// so a hostile file cannot make the scratch buffers huge.
const MaxRank = 4096

// Adapter is an open LoRA adapter file.
type Adapter struct {
	// Name is general.name, or the file name without .gguf.
	Name string
	// Path is the file the adapter was opened from ("" when parsed from
	// memory).
	Path string
	// Arch is the base model's architecture (general.architecture).
	Arch string
	// Alpha is adapter.lora.alpha; 0 means none, and the scale is then the
	// user's alone.
	Alpha float32
	// Pairs are the adapted weights, sorted by target name.
	Pairs []Pair

	file *gguf.File
}

// Pair is the low-rank update of one base weight.
type Pair struct {
	// Target is the base tensor's name (blk.0.attn_q.weight).
	Target string
	// In, Out and Rank: A is [In, Rank] and B is [Rank, Out] in ggml's
	// order, so A·x has Rank values and B·(A·x) has Out.
	In, Out, Rank int
	A, B          *compute.Matrix
}

// Scale returns the factor of B·(A·x) for the user's scale s:
// s·alpha/rank, or s when the adapter has no alpha (as llama.cpp).
func (a *Adapter) Scale(p *Pair, s float32) float32 {
	if a.Alpha == 0 {
		return s
	}
	return s * a.Alpha / float32(p.Rank)
}

// Ranks returns the smallest and largest rank of the pairs.
func (a *Adapter) Ranks() (lo, hi int) {
	for i, p := range a.Pairs {
		if i == 0 || p.Rank < lo {
			lo = p.Rank
		}
		hi = max(hi, p.Rank)
	}
	return lo, hi
}

// Bytes returns the size of the adapter's tensors.
func (a *Adapter) Bytes() int64 {
	var n int64
	for _, p := range a.Pairs {
		n += int64(len(p.A.Data) + len(p.B.Data))
	}
	return n
}

// Close releases the file.
func (a *Adapter) Close() error {
	if a.file == nil {
		return nil
	}
	return a.file.Close()
}

// IsAdapter reports whether f declares itself a LoRA adapter (general.type
// "adapter").
func IsAdapter(f *gguf.File) bool {
	t, _ := f.GetString("general.type", "")
	return t == "adapter"
}

// Open reads the adapter at path. The file stays mapped until Close.
func Open(path string) (*Adapter, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	a, err := FromFile(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// FromFile reads the adapter held by f (which it then owns) and checks
// its pairs against each other: every lora_a has its lora_b, both are
// matrices, and their ranks agree.
func FromFile(f *gguf.File, path string) (*Adapter, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".gguf")
	if path == "" {
		name = "adapter"
	}
	what := name
	if t, err := f.GetString("general.type", ""); err != nil || t != "adapter" {
		return nil, fmt.Errorf("lora: %s is not an adapter (general.type %q, expected \"adapter\")", what, t)
	}
	if t, err := f.GetString("adapter.type", ""); err != nil || t != "lora" {
		return nil, fmt.Errorf("lora: %s: adapter.type %q is not supported (only \"lora\")", what, t)
	}
	arch, err := f.GetString("general.architecture", "")
	if err != nil || arch == "" {
		return nil, fmt.Errorf("lora: %s has no general.architecture (the base model's architecture)", what)
	}
	alpha, err := f.GetFloat("adapter.lora.alpha", 0)
	if err != nil {
		return nil, fmt.Errorf("lora: %s: %w", what, err)
	}
	if alpha < 0 || alpha > 1e6 || alpha != alpha {
		return nil, fmt.Errorf("lora: %s: adapter.lora.alpha %g is not a usable alpha", what, alpha)
	}
	if n, _ := f.GetString("general.name", ""); n != "" {
		name = n
	}
	a := &Adapter{Name: name, Path: path, Arch: arch, Alpha: float32(alpha), file: f}
	halves := map[string][2]*gguf.TensorInfo{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		base, half, ok := splitName(t.Name)
		if !ok {
			return nil, fmt.Errorf("lora: %s: tensor %q is neither a .lora_a nor a .lora_b", what, t.Name)
		}
		h := halves[base]
		if h[half] != nil {
			return nil, fmt.Errorf("lora: %s: tensor %q appears twice", what, t.Name)
		}
		h[half] = t
		halves[base] = h
	}
	if len(halves) == 0 {
		return nil, fmt.Errorf("lora: %s has no lora_a/lora_b tensors", what)
	}
	for base, h := range halves {
		p, err := pair(base, h[0], h[1])
		if err != nil {
			return nil, fmt.Errorf("lora: %s: %w", what, err)
		}
		p.A.Mapped, p.B.Mapped = f.Mapped(), f.Mapped()
		a.Pairs = append(a.Pairs, p)
	}
	sort.Slice(a.Pairs, func(i, j int) bool { return a.Pairs[i].Target < a.Pairs[j].Target })
	return a, nil
}

// splitName parses <base>.lora_a / <base>.lora_b.
func splitName(name string) (base string, half int, ok bool) {
	if b, found := strings.CutSuffix(name, ".lora_a"); found && b != "" {
		return b, 0, true
	}
	if b, found := strings.CutSuffix(name, ".lora_b"); found && b != "" {
		return b, 1, true
	}
	return "", 0, false
}

func pair(base string, a, b *gguf.TensorInfo) (Pair, error) {
	switch {
	case a == nil:
		return Pair{}, fmt.Errorf("tensor %q has no %q", base+".lora_b", base+".lora_a")
	case b == nil:
		return Pair{}, fmt.Errorf("tensor %q has no %q", base+".lora_a", base+".lora_b")
	case len(a.Dims) != 2 || len(b.Dims) != 2:
		return Pair{}, fmt.Errorf("%s: lora_a %v and lora_b %v must both be matrices", base, a.Dims, b.Dims)
	}
	in, rank, rankB, out := a.Dims[0], a.Dims[1], b.Dims[0], b.Dims[1]
	if rank != rankB {
		return Pair{}, fmt.Errorf("%s: lora_a is %v and lora_b %v: lora_a must be [in rank] and lora_b [rank out] with the same rank", base, a.Dims, b.Dims)
	}
	if rank == 0 || rank > MaxRank || in > 1<<24 || out > 1<<24 {
		return Pair{}, fmt.Errorf("%s: lora_a %v, lora_b %v: rank %d (at most %d) or width out of range", base, a.Dims, b.Dims, rank, MaxRank)
	}
	am, err := compute.NewMatrix(a.Name, a.Type, int(in), int(rank), a.Data)
	if err != nil {
		return Pair{}, err
	}
	bm, err := compute.NewMatrix(b.Name, b.Type, int(rank), int(out), b.Data)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Target: base, In: int(in), Out: int(out), Rank: int(rank), A: am, B: bm}, nil
}

// Check verifies that the adapter fits the base model f: the same
// architecture, and every target a matrix of f of shape [In, Out].
func (a *Adapter) Check(f *gguf.File) error {
	arch, _ := f.GetString("general.architecture", "")
	if arch != a.Arch {
		return fmt.Errorf("lora: adapter %s is for architecture %q, the model is %q", a.Name, a.Arch, arch)
	}
	for i := range a.Pairs {
		p := &a.Pairs[i]
		t, ok := f.Tensor(p.Target)
		if !ok {
			return fmt.Errorf("lora: adapter %s adapts %q, which the model has not", a.Name, p.Target)
		}
		if len(t.Dims) != 2 || t.Dims[0] != uint64(p.In) || t.Dims[1] != uint64(p.Out) {
			return fmt.Errorf("lora: adapter %s: %s.lora_a [%d %d] and .lora_b [%d %d] do not fit the model's %s %v (expected lora_a [%d r], lora_b [r %d])",
				a.Name, p.Target, p.In, p.Rank, p.Rank, p.Out, p.Target, t.Dims, t.Dims[0], dimOr(t.Dims, 1))
		}
	}
	return nil
}

func dimOr(d []uint64, i int) uint64 {
	if i < len(d) {
		return d[i]
	}
	return 1
}
