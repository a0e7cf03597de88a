package engine

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/model"
)

// LoRA names a LoRA adapter to load with the model and its default scale
// (the scale requests get unless they give their own).
type LoRA struct {
	Path  string
	Scale float32
}

// ParseLoRA reads FILE[:SCALE] (as --lora takes it; the scale defaults
// to 1). Only a suffix that parses as a number is a scale, so a path with
// colons of its own stays whole.
func ParseLoRA(s string) (LoRA, error) {
	if s == "" {
		return LoRA{}, fmt.Errorf("engine: empty adapter path")
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 {
		if v, err := strconv.ParseFloat(s[i+1:], 32); err == nil {
			if err := checkScale(float32(v)); err != nil {
				return LoRA{}, err
			}
			return LoRA{Path: s[:i], Scale: float32(v)}, nil
		}
	}
	return LoRA{Path: s, Scale: 1}, nil
}

func checkScale(s float32) error {
	if s != s || s > 1e4 || s < -1e4 {
		return fmt.Errorf("engine: adapter scale %g is not a usable scale", s)
	}
	return nil
}

// LoRAScale is the scale of the adapter with index ID (its place in
// Options.LoRA and in Adapters).
type LoRAScale struct {
	ID    int     `json:"id"`
	Scale float32 `json:"scale"`
}

// AdapterInfo describes a loaded adapter.
type AdapterInfo struct {
	ID   int
	Path string
	Name string
	// Scale is the default scale of requests that give none.
	Scale float32
	// Alpha, MinRank, MaxRank and Targets describe the adapter:
	// adapter.lora.alpha, its ranks, and the weights it adapts.
	Alpha            float32
	MinRank, MaxRank int
	Targets          int
}

// openAdapters opens, checks against the model file f and binds every
// adapter of opts to m. On failure nothing stays open.
func openAdapters(f *gguf.File, m model.Model, specs []LoRA) ([]*lora.Adapter, *model.Adapters, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	var ads []*lora.Adapter
	fail := func(err error) ([]*lora.Adapter, *model.Adapters, error) {
		for _, a := range ads {
			a.Close()
		}
		return nil, nil, err
	}
	for _, sp := range specs {
		if err := checkScale(sp.Scale); err != nil {
			return fail(err)
		}
		a, err := lora.Open(sp.Path)
		if err != nil {
			return fail(err)
		}
		ads = append(ads, a)
		if err := a.Check(f); err != nil {
			return fail(err)
		}
	}
	set, err := model.BindLoRA(m, ads)
	if err != nil {
		return fail(err)
	}
	return ads, set, nil
}

// Adapters lists the loaded adapters with their current default scales.
func (e *Engine) Adapters() []AdapterInfo {
	e.loraMu.Lock()
	defer e.loraMu.Unlock()
	out := make([]AdapterInfo, len(e.adapters))
	for i, a := range e.adapters {
		lo, hi := a.Ranks()
		out[i] = AdapterInfo{ID: i, Path: a.Path, Name: a.Name, Scale: e.loraScale[i], Alpha: a.Alpha, MinRank: lo, MaxRank: hi, Targets: len(a.Pairs)}
	}
	return out
}

// SetLoRAScales sets the default scales of later requests: the listed
// adapters get their scales and the others 0, as llama-server's POST
// /lora-adapters does. Requests already running keep theirs.
func (e *Engine) SetLoRAScales(scales []LoRAScale) error {
	v, err := e.loraScales(scales)
	if err != nil {
		return err
	}
	e.loraMu.Lock()
	copy(e.loraScale, v)
	e.loraMu.Unlock()
	return nil
}

// loraScales turns a request's list into one scale per adapter (listed
// ones their scale, the others 0); nil gives the defaults.
func (e *Engine) loraScales(req []LoRAScale) ([]float32, error) {
	if len(e.adapters) == 0 {
		if len(req) > 0 {
			return nil, fmt.Errorf("engine: adapter %d: no LoRA adapters are loaded", req[0].ID)
		}
		return nil, nil
	}
	out := make([]float32, len(e.adapters))
	if req == nil {
		return e.defaultScales(), nil
	}
	for _, r := range req {
		if r.ID < 0 || r.ID >= len(e.adapters) {
			return nil, fmt.Errorf("engine: adapter id %d out of range (%d adapters loaded)", r.ID, len(e.adapters))
		}
		if err := checkScale(r.Scale); err != nil {
			return nil, err
		}
		out[r.ID] = r.Scale
	}
	return out, nil
}

func sameScales(a, b []float32) bool {
	if len(a) != len(b) {
		// nil (no adapters, or every scale 0 before any request) and
		// all-zero scales run the same model.
		return allZero(a) && allZero(b)
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func allZero(s []float32) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// defaultScales returns a copy of the default scales.
func (e *Engine) defaultScales() []float32 {
	e.loraMu.Lock()
	defer e.loraMu.Unlock()
	return append([]float32(nil), e.loraScale...)
}
