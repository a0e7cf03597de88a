// Package quant holds the tensor element types: their block layouts,
// dequantization, quantization and dot products.
//
// Each type lives in one file and has one row in the table below. Dot
// products follow llama.cpp's scheme: a weight row of type T is multiplied
// with an activation row that was first converted to T's VecDotType (Q8_0
// blocks for the legacy 32-element types, F16 for F16, …), so results match
// the reference engine and the inner loops are integer arithmetic.
package quant

import (
	"fmt"

	"github.com/shimmer-llm/shimmer/gguf"
)

// Traits are the kernels of one tensor type. Every function takes whole rows:
// n (a multiple of BlockSize) elements.
type Traits struct {
	Type       gguf.Type
	BlockSize  int // elements per block
	BlockBytes int // bytes per block

	// Dequantize decodes len(dst) elements from src.
	Dequantize func(dst []float32, src []byte)
	// Quantize encodes src into dst (RowBytes(len(src)) bytes). It is nil
	// for types that cannot be produced.
	Quantize func(dst []byte, src []float32)
	// QuantizeAct converts an activation row at run time when it differs
	// from Quantize (llama.cpp's SIMD rounding); nil means Quantize.
	QuantizeAct func(dst []byte, src []float32)
	// VecDotType is the type activations are converted to before VecDot.
	VecDotType gguf.Type
	// VecDot returns the dot product of the first n elements of a row w of
	// this type and a row x of VecDotType.
	VecDot func(n int, w, x []byte) float32
}

// QuantizeActivation converts an activation row into this type, rounding as
// the reference engine does at run time.
func (t *Traits) QuantizeActivation(dst []byte, src []float32) {
	if t.QuantizeAct != nil {
		t.QuantizeAct(dst, src)
		return
	}
	t.Quantize(dst, src)
}

// RowBytes is the size of a row of n elements.
func (t *Traits) RowBytes(n int) int { return n / t.BlockSize * t.BlockBytes }

// table lists the implemented types: a new type is one file and one row.
var table = map[gguf.Type]*Traits{
	gguf.TypeF32:    &f32Traits,
	gguf.TypeF16:    &f16Traits,
	gguf.TypeBF16:   &bf16Traits,
	gguf.TypeQ4_0:   &q4_0Traits,
	gguf.TypeQ4_1:   &q4_1Traits,
	gguf.TypeQ5_0:   &q5_0Traits,
	gguf.TypeQ5_1:   &q5_1Traits,
	gguf.TypeQ8_0:   &q8_0Traits,
	gguf.TypeQ8_1:   &q8_1Traits,
	gguf.TypeQ2_K:   &q2_kTraits,
	gguf.TypeQ3_K:   &q3_kTraits,
	gguf.TypeQ4_K:   &q4_kTraits,
	gguf.TypeQ5_K:   &q5_kTraits,
	gguf.TypeQ6_K:   &q6_kTraits,
	gguf.TypeQ8_K:   &q8_kTraits,
	gguf.TypeIQ4_NL: &iq4_nlTraits,
	gguf.TypeIQ4_XS: &iq4_xsTraits,
	gguf.TypeIQ3_S:  &iq3_sTraits,
	gguf.TypeTQ2_0:  &tq2_0Traits,
	gguf.TypeMXFP4:  &mxfp4Traits,
}

// Lookup returns the traits of t, or an error naming the type when shimmer
// does not implement it.
func Lookup(t gguf.Type) (*Traits, error) {
	tr, ok := table[t]
	if !ok {
		return nil, fmt.Errorf("quant: tensor type %s is not supported (supported: %s)", t, supportedList())
	}
	return tr, nil
}

// Supported lists the implemented types in id order.
func Supported() []gguf.Type {
	var out []gguf.Type
	for t := gguf.Type(0); t < 64; t++ {
		if _, ok := table[t]; ok {
			out = append(out, t)
		}
	}
	return out
}

func supportedList() string {
	s := ""
	for i, t := range Supported() {
		if i > 0 {
			s += ", "
		}
		s += t.String()
	}
	return s
}

// DequantizeRow decodes len(dst) elements of type t from src.
func DequantizeRow(t gguf.Type, dst []float32, src []byte) error {
	tr, err := Lookup(t)
	if err != nil {
		return err
	}
	if len(dst)%tr.BlockSize != 0 || len(src) < tr.RowBytes(len(dst)) {
		return fmt.Errorf("quant: %s row of %d elements needs %d bytes, have %d", t, len(dst), tr.RowBytes(len(dst)), len(src))
	}
	tr.Dequantize(dst, src)
	return nil
}
