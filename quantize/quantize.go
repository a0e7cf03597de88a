// Package quantize converts a GGUF model to quantized types as
// llama-quantize does: one type for the whole file or one of its mixes
// (Q4_K_M, Q5_K_S, …), which give some tensors more bits, with the same
// per-tensor choices, metadata and tensor order, so that the bytes written
// match llama-quantize's for the same input.
package quantize

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// noType marks an unset type option.
const noType gguf.Type = math.MaxUint32

func typeOr(t *gguf.Type) gguf.Type {
	if t == nil {
		return noType
	}
	return *t
}

// QuantizationVersion is written as general.quantization_version.
const QuantizationVersion = 2

// Options control a conversion.
type Options struct {
	// FileType is the type or mix (see ParseFileType).
	FileType FileType
	// Pure gives every quantizable tensor the mix's default type.
	Pure bool
	// OutputType and TokenEmbeddingType, when set, override the type of
	// output.weight and token_embd.weight.
	OutputType, TokenEmbeddingType *gguf.Type
	// Threads quantizing rows in parallel (0: one per CPU).
	Threads int
	// Progress, when set, is called after each tensor is written.
	Progress func(Progress)
}

// Progress reports one written tensor.
type Progress struct {
	Index, Count int // 1-based index of the tensor and number of tensors
	Tensor       TensorPlan
	Written      int64 // tensor data bytes written so far
	Total        int64 // tensor data bytes to write
}

// TensorPlan is the conversion of one tensor.
type TensorPlan struct {
	Name     string
	Dims     []uint64
	From, To gguf.Type
	Fallback bool // the mix's type did not fit the row length
}

// Plan returns the tensors in the order they are written and the type each
// gets, or an error naming a tensor whose type cannot be produced.
func Plan(in *gguf.File, opts Options) ([]TensorPlan, error) {
	def, ok := opts.FileType.DefaultType()
	if !ok {
		return nil, fmt.Errorf("quantize: unknown file type %d", uint32(opts.FileType))
	}
	if opts.FileType == FileTypeQ2_K_S {
		return nil, fmt.Errorf("quantize: %s needs an importance matrix, which is not supported", opts.FileType)
	}
	order := make([]*gguf.TensorInfo, len(in.Tensors))
	for i := range in.Tensors {
		order[i] = &in.Tensors[i]
	}
	// llama.cpp's loader orders tensors by block number, then by name.
	sort.SliceStable(order, func(i, j int) bool {
		li, lj := layerOf(order[i].Name), layerOf(order[j].Name)
		if li != lj {
			return li < lj
		}
		return order[i].Name < order[j].Name
	})
	outType, embType := typeOr(opts.OutputType), typeOr(opts.TokenEmbeddingType)
	m := &mixer{ft: opts.FileType, h: readHparams(in), tied: true}
	m.nFFN = m.h.nLayer
	for _, t := range order {
		c := tensorCategory(t.Name)
		if c.isAttnV() {
			m.nAttnV++
		}
		if c == catOutput {
			m.tied = false
		}
	}
	plans := make([]TensorPlan, len(order))
	for i, t := range order {
		p := TensorPlan{Name: t.Name, Dims: t.Dims, From: t.Type, To: t.Type}
		if len(t.Dims) == 0 || t.Dims[0] == 0 {
			return nil, fmt.Errorf("quantize: tensor %q has no elements", t.Name)
		}
		cols := int(t.Dims[0])
		cat := tensorCategory(t.Name)
		switch {
		case !allowsQuantization(t.Name, t.Dims):
		case embType != noType && cat == catTokenEmbd:
			p.To = embType
		case outType != noType && cat == catOutput:
			p.To = outType
		case def == gguf.TypeF32 || def == gguf.TypeF16 || def == gguf.TypeBF16:
			p.To = def
		default:
			p.To = def
			if !opts.Pure {
				p.To = m.choose(def, t.Name, cols, len(t.Dims) > 2 && t.Dims[2] > 1, cat, outType)
			}
			p.To, p.Fallback = fallback(p.To, cols)
		}
		if p.To != p.From {
			if err := checkConvertible(&p, cols); err != nil {
				return nil, err
			}
		}
		plans[i] = p
	}
	return plans, nil
}

func checkConvertible(p *TensorPlan, cols int) error {
	if tr, err := quant.Lookup(p.To); err != nil || tr.Quantize == nil {
		return fmt.Errorf("quantize: tensor %q: cannot produce type %s", p.Name, p.To)
	}
	if bs := p.To.BlockSize(); bs == 0 || cols%bs != 0 {
		return fmt.Errorf("quantize: tensor %q: row length %d is not a multiple of the %s block size %d", p.Name, cols, p.To, bs)
	}
	switch p.From {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		return nil
	}
	return fmt.Errorf("quantize: tensor %q is %s; only F32, F16 and BF16 tensors can be quantized", p.Name, p.From)
}

// Quantize writes in converted by opts to out as a GGUF file: the metadata
// of in (split keys removed) with general.quantization_version and
// general.file_type set, then the tensors in llama.cpp's order.
func Quantize(in *gguf.File, out io.Writer, opts Options) error {
	plans, err := Plan(in, opts)
	if err != nil {
		return err
	}
	w := gguf.NewWriter()
	if _, ok := in.Get("general.alignment"); ok {
		w.Alignment = in.Alignment
	}
	for _, kv := range in.KV {
		switch kv.Key {
		case "split.no", "split.count", "split.tensors.count":
			continue
		}
		if err := w.Set(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
	}
	// llama.cpp removes and re-appends the keys it sets.
	w.Delete("general.quantization_version")
	w.Delete("general.file_type")
	if err := w.Set("general.quantization_version", uint32(QuantizationVersion)); err != nil {
		return err
	}
	if err := w.Set("general.file_type", uint32(opts.FileType)); err != nil {
		return err
	}
	var total, written int64
	for i := range plans {
		total += int64(plans[i].To.RowBytes(int(plans[i].Dims[0]))) * int64(elements(plans[i].Dims)/plans[i].Dims[0])
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	for i := range plans {
		p := &plans[i]
		src, _ := in.Tensor(p.Name)
		size := uint64(p.To.RowBytes(int(p.Dims[0]))) * (elements(p.Dims) / p.Dims[0])
		idx := i
		err := w.AddTensorFunc(p.Name, p.To, p.Dims, func(out io.Writer) error {
			data := src.Data
			if p.To != p.From {
				var err error
				if data, err = convert(src, p.To, threads); err != nil {
					return err
				}
			}
			if _, err := out.Write(data); err != nil {
				return err
			}
			written += int64(len(data))
			if opts.Progress != nil {
				opts.Progress(Progress{Index: idx + 1, Count: len(plans), Tensor: *p, Written: written, Total: total})
			}
			return nil
		}, size)
		if err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
	}
	n, err := w.WriteTo(out)
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	// llama-quantize pads the last tensor's data to the alignment too.
	if pad := (int64(w.Alignment) - n%int64(w.Alignment)) % int64(w.Alignment); pad > 0 {
		if _, err := out.Write(make([]byte, pad)); err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
	}
	return nil
}

func elements(dims []uint64) uint64 {
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// convert decodes a tensor row by row and encodes it as type to, rows
// spread over threads.
func convert(src *gguf.TensorInfo, to gguf.Type, threads int) ([]byte, error) {
	from, err := quant.Lookup(src.Type)
	if err != nil {
		return nil, err
	}
	tr, err := quant.Lookup(to)
	if err != nil {
		return nil, err
	}
	cols := int(src.Dims[0])
	rows := int(elements(src.Dims) / src.Dims[0])
	inRB, outRB := from.RowBytes(cols), tr.RowBytes(cols)
	if len(src.Data) < rows*inRB {
		return nil, fmt.Errorf("quantize: tensor %q: %d bytes of data, expected %d", src.Name, len(src.Data), rows*inRB)
	}
	out := make([]byte, rows*outRB)
	var wg sync.WaitGroup
	chunk := (rows + threads - 1) / threads
	for lo := 0; lo < rows; lo += chunk {
		hi := min(rows, lo+chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := make([]float32, cols)
			for r := lo; r < hi; r++ {
				from.Dequantize(row, src.Data[r*inRB:(r+1)*inRB])
				tr.Quantize(out[r*outRB:(r+1)*outRB], row)
			}
		}()
	}
	wg.Wait()
	return out, nil
}
