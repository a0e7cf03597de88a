// Command benchmodel writes random-weight GGUF models with the shapes of
// real small models, for benchmarks (shimmer bench, llama-bench):
//
//	go run ./internal/tools/benchmodel -out /work/bench-models
//	go run ./internal/tools/benchmodel -out DIR -shape tinyllama -types Q4_0,F16
//
// Weights are i.i.d. normal draws (σ = 0.02, norms 1) from a fixed seed,
// so files are reproducible; the tokenizer is the Llama 2 SentencePiece
// vocabulary (ggml-vocab-llama-spm.gguf from the shared test data, or
// -vocab). F16, Q8_0 and Q4_0 files are written directly (every 2-D
// weight of the file's type, except the output matrix of Q4_0 files,
// which is Q8_0); any other type, such as Q4_K_M, is quantized from the
// F16 file (written first when missing) by the quantize package, with
// llama-quantize's per-tensor mixture.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/quant"
	"github.com/shimmer-llm/shimmer/quantize"
)

// shape is a model architecture and its dimensions.
type shape struct {
	name      string // file name stem
	arch      string
	embd, ff  int
	layers    int
	heads, kv int
	vocab     int
	tied      bool
	qkvBias   bool
	ropeBase  float32
	eps       float32
	ctx       int
	// Sparse models: experts of width ff, used per token; headDim
	// overrides embd/heads.
	experts, used int
	headDim       int
}

var shapes = []shape{
	{name: "tinyllama-1.1b", arch: "llama", embd: 2048, ff: 5632, layers: 22, heads: 32, kv: 4, vocab: 32000, ropeBase: 10000, eps: 1e-5, ctx: 2048},
	{name: "llama3.2-1b", arch: "llama", embd: 2048, ff: 8192, layers: 16, heads: 32, kv: 8, vocab: 32000, tied: true, ropeBase: 500000, eps: 1e-5, ctx: 8192},
	{name: "qwen2.5-0.5b", arch: "qwen2", embd: 896, ff: 4864, layers: 24, heads: 14, kv: 2, vocab: 32000, tied: true, qkvBias: true, ropeBase: 1000000, eps: 1e-6, ctx: 4096},
	// Qwen3-30B-A3B's widths (n_embd 2048, experts 768 wide, head width
	// 128) at 16 layers of 32 experts, 4 used: 2.7 B parameters, 0.5 B
	// active.
	{name: "qwen3moe-2.7b-a0.5b", arch: "qwen3moe", embd: 2048, ff: 768, layers: 16, heads: 16, kv: 4, headDim: 128, vocab: 32000, ropeBase: 1000000, eps: 1e-6, ctx: 4096, experts: 32, used: 4},
	// gpt-oss-20b's layers (n_embd 2880, 64 query heads of 64, 8 KV heads,
	// 32 experts 2880 wide, 4 used) but 6 of its 24: 5.0 B parameters,
	// 0.8 B active. Its MXFP4_MOE file has MXFP4 experts, Q8_0 elsewhere.
	// bge-small-en-v1.5's encoder (BERT: n_embd 384, 12 layers of 12
	// heads, FFN 1536, 512 positions, CLS pooling) with its WordPiece
	// vocabulary (ggml-vocab-bert-bge.gguf, the default for this shape).
	{name: "bge-small", arch: "bert", embd: 384, ff: 1536, layers: 12, heads: 12, kv: 12, vocab: 30522, eps: 1e-12, ctx: 512},
	{name: "gptoss-5b-a0.8b", arch: "gpt-oss", embd: 2880, ff: 2880, layers: 6, heads: 64, kv: 8, headDim: 64, vocab: 32000, ropeBase: 150000, eps: 1e-5, ctx: 4096, experts: 32, used: 4},
}

// fileTypes maps a type name to llama.cpp's general.file_type and the
// tensor type of the 2-D weights.
var fileTypes = map[string]struct {
	ftype  uint32
	weight gguf.Type
	output gguf.Type
}{
	"F16":  {1, gguf.TypeF16, gguf.TypeF16},
	"Q4_0": {2, gguf.TypeQ4_0, gguf.TypeQ8_0},
	"Q8_0": {7, gguf.TypeQ8_0, gguf.TypeQ8_0},
	// MXFP4_MOE: experts MXFP4, every other matrix Q8_0.
	"MXFP4_MOE": {38, gguf.TypeQ8_0, gguf.TypeQ8_0},
}

func main() {
	out := flag.String("out", "/work/bench-models", "output folder")
	only := flag.String("shape", "", "comma-separated shapes (default all: "+shapeNames()+")")
	types := flag.String("types", "Q4_0,Q8_0,F16,Q4_K_M", "comma-separated file types (F16, Q8_0, Q4_0 written directly; others quantized from F16)")
	vocab := flag.String("vocab", "", "vocabulary GGUF (default: the shared test data's ggml-vocab-llama-spm.gguf; bge's for bert shapes)")
	loraRank := flag.Int("lora-rank", 0, "instead of models, write a LoRA adapter of this rank on every attention and feed-forward matrix of each shape (OUT/SHAPE-lora-rRANK-TYPE.gguf, TYPE from -lora-type)")
	loraType := flag.String("lora-type", "F16", "tensor type of the adapter: F32 or F16")
	texts := flag.Int("texts", 0, "instead of models, write N texts of 10-60 words for embedding benchmarks (OUT/texts-N.txt, one per line, and .jsonl, JSON strings)")
	flag.Parse()
	var err error
	switch {
	case *texts > 0:
		err = writeTexts(*out, *texts)
	case *loraRank > 0:
		err = writeAdapters(*out, *only, *loraRank, *loraType)
	default:
		err = run(*out, *only, *types, *vocab)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmodel:", err)
		os.Exit(1)
	}
}

// writeAdapters writes a LoRA adapter of rank r (alpha r) on every
// attention and dense feed-forward matrix of each dense decoder shape,
// in llama.cpp's adapter layout.
func writeAdapters(outDir, only string, r int, tname string) error {
	t := gguf.TypeF16
	switch tname {
	case "F16":
	case "F32":
		t = gguf.TypeF32
	default:
		return fmt.Errorf("-lora-type %s: use F32 or F16", tname)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, sh := range shapes {
		if (only != "" && !contains(only, sh.name)) || sh.experts > 0 || sh.arch == "bert" {
			continue
		}
		w := gguf.NewWriter()
		for _, kv := range []struct {
			k string
			v any
		}{{"general.architecture", sh.arch}, {"general.name", fmt.Sprintf("%s random lora r%d", sh.name, r)},
			{"general.type", "adapter"}, {"adapter.type", "lora"}, {"adapter.lora.alpha", float32(r)}} {
			if err := w.Set(kv.k, kv.v); err != nil {
				return err
			}
		}
		add := tensorAdder(w)
		hd := sh.embd / sh.heads
		if sh.headDim != 0 {
			hd = sh.headDim
		}
		e, qd, kd := sh.embd, sh.heads*hd, sh.kv*hd
		for l := 0; l < sh.layers; l++ {
			for _, m := range []struct {
				name    string
				in, out int
			}{{"attn_q", e, qd}, {"attn_k", e, kd}, {"attn_v", e, kd}, {"attn_output", qd, e}, {"ffn_gate", e, sh.ff}, {"ffn_up", e, sh.ff}, {"ffn_down", sh.ff, e}} {
				p := fmt.Sprintf("blk.%d.%s.weight", l, m.name)
				add(p+".lora_a", t, m.in, r, normal)
				add(p+".lora_b", t, r, m.out, normal)
			}
		}
		path := filepath.Join(outDir, fmt.Sprintf("%s-lora-r%d-%s.gguf", sh.name, r, tname))
		fmt.Println("writing", path)
		if err := save(w, path); err != nil {
			return err
		}
	}
	return nil
}

func shapeNames() string {
	var s []string
	for _, sh := range shapes {
		s = append(s, sh.name)
	}
	return strings.Join(s, ",")
}

func run(outDir, only, types, vocabPath string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, sh := range shapes {
		if only != "" && !contains(only, sh.name) {
			continue
		}
		voc, err := openVocab(vocabPath, sh)
		if err != nil {
			return err
		}
		defer voc.Close()
		for _, t := range strings.Split(types, ",") {
			path := filepath.Join(outDir, sh.name+"-"+t+".gguf")
			ft, ok := fileTypes[t]
			if !ok {
				if err := requantize(outDir, path, sh, t, voc); err != nil {
					return err
				}
				continue
			}
			fmt.Println("writing", path)
			if err := write(path, sh, t, ft.ftype, ft.weight, ft.output, voc); err != nil {
				return err
			}
		}
	}
	return nil
}

// openVocab opens -vocab, else the shared test data's vocabulary for the
// shape: the Llama 2 SentencePiece one, or bge's WordPiece one for BERT.
func openVocab(path string, sh shape) (*gguf.File, error) {
	if path == "" {
		d, err := testdata.Find()
		if err != nil {
			return nil, err
		}
		name := "ggml-vocab-llama-spm.gguf"
		if sh.arch == "bert" {
			name = "ggml-vocab-bert-bge.gguf"
		}
		path = filepath.Join(d, "vocab", name)
	}
	return gguf.Open(path)
}

// requantize writes path as the F16 file of shape sh quantized to the
// llama-quantize type or mix t.
func requantize(outDir, path string, sh shape, t string, voc *gguf.File) error {
	ftype, err := quantize.ParseFileType(t)
	if err != nil {
		return err
	}
	src := filepath.Join(outDir, sh.name+"-F16.gguf")
	if _, err := os.Stat(src); err != nil {
		fmt.Println("writing", src)
		ft := fileTypes["F16"]
		if err := write(src, sh, "F16", ft.ftype, ft.weight, ft.output, voc); err != nil {
			return err
		}
	}
	in, err := gguf.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fmt.Println("writing", path, "from", src)
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := quantize.Quantize(in, bw, quantize.Options{FileType: ftype}); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func contains(list, s string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == s {
			return true
		}
	}
	return false
}

func write(path string, sh shape, tname string, ftype uint32, wt, ot gguf.Type, voc *gguf.File) error {
	w := gguf.NewWriter()
	a := sh.arch
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			panic(err)
		}
	}
	set("general.architecture", a)
	set("general.name", sh.name+" random "+tname)
	set("general.file_type", ftype)
	if a == "bert" {
		return writeBERT(w, set, path, sh, wt, voc)
	}
	set(a+".vocab_size", uint32(sh.vocab))
	set(a+".context_length", uint32(sh.ctx))
	set(a+".embedding_length", uint32(sh.embd))
	set(a+".block_count", uint32(sh.layers))
	set(a+".feed_forward_length", uint32(sh.ff))
	hd := sh.embd / sh.heads
	if sh.headDim != 0 {
		hd = sh.headDim
		set(a+".attention.key_length", uint32(hd))
		set(a+".attention.value_length", uint32(hd))
	}
	set(a+".rope.dimension_count", uint32(hd))
	if sh.experts > 0 {
		set(a+".expert_count", uint32(sh.experts))
		set(a+".expert_used_count", uint32(sh.used))
		set(a+".expert_feed_forward_length", uint32(sh.ff))
	}
	if a == "gpt-oss" {
		set(a+".attention.sliding_window", uint32(128))
		set(a+".rope.scaling.type", "yarn")
		set(a+".rope.scaling.factor", float32(32))
		set(a+".rope.scaling.original_context_length", uint32(4096))
	}
	set(a+".attention.head_count", uint32(sh.heads))
	set(a+".attention.head_count_kv", uint32(sh.kv))
	set(a+".attention.layer_norm_rms_epsilon", sh.eps)
	set(a+".rope.freq_base", sh.ropeBase)
	if err := copyVocab(set, voc, sh.vocab); err != nil {
		return err
	}
	add := tensorAdder(w)
	e := sh.embd
	qd := sh.heads * hd
	expertType := wt
	if tname == "MXFP4_MOE" {
		expertType = gguf.TypeMXFP4
	}
	add("token_embd.weight", wt, e, sh.vocab, normal)
	add("output_norm.weight", gguf.TypeF32, e, 1, ones)
	if !sh.tied {
		add("output.weight", ot, e, sh.vocab, normal)
	}
	for l := 0; l < sh.layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", gguf.TypeF32, e, 1, ones)
		add(p+"attn_q.weight", wt, e, qd, normal)
		add(p+"attn_k.weight", wt, e, sh.kv*hd, normal)
		add(p+"attn_v.weight", wt, e, sh.kv*hd, normal)
		if sh.qkvBias || a == "gpt-oss" {
			add(p+"attn_q.bias", gguf.TypeF32, qd, 1, small)
			add(p+"attn_k.bias", gguf.TypeF32, sh.kv*hd, 1, small)
			add(p+"attn_v.bias", gguf.TypeF32, sh.kv*hd, 1, small)
		}
		if a == "qwen3moe" {
			add(p+"attn_q_norm.weight", gguf.TypeF32, hd, 1, ones)
			add(p+"attn_k_norm.weight", gguf.TypeF32, hd, 1, ones)
		}
		add(p+"attn_output.weight", wt, qd, e, normal)
		if a == "gpt-oss" {
			add(p+"attn_output.bias", gguf.TypeF32, e, 1, small)
			add(p+"attn_sinks.weight", gguf.TypeF32, sh.heads, 1, small)
			add(p+"post_attention_norm.weight", gguf.TypeF32, e, 1, ones)
		} else {
			add(p+"ffn_norm.weight", gguf.TypeF32, e, 1, ones)
		}
		if sh.experts > 0 {
			add(p+"ffn_gate_inp.weight", gguf.TypeF32, e, sh.experts, normal)
			add(p+"ffn_gate_exps.weight", expertType, e, sh.ff, normal, sh.experts)
			add(p+"ffn_up_exps.weight", expertType, e, sh.ff, normal, sh.experts)
			add(p+"ffn_down_exps.weight", expertType, sh.ff, e, normal, sh.experts)
			if a == "gpt-oss" {
				add(p+"ffn_gate_inp.bias", gguf.TypeF32, sh.experts, 1, small)
				add(p+"ffn_gate_exps.bias", gguf.TypeF32, sh.ff, sh.experts, small)
				add(p+"ffn_up_exps.bias", gguf.TypeF32, sh.ff, sh.experts, small)
				add(p+"ffn_down_exps.bias", gguf.TypeF32, e, sh.experts, small)
			}
			continue
		}
		add(p+"ffn_gate.weight", wt, e, sh.ff, normal)
		add(p+"ffn_up.weight", wt, e, sh.ff, normal)
		add(p+"ffn_down.weight", wt, sh.ff, e, normal)
	}
	return save(w, path)
}

// copyVocab copies the tokenizer keys of voc, which must hold n tokens.
func copyVocab(set func(string, any), voc *gguf.File, n int) error {
	have := 0
	for _, kv := range voc.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			set(kv.Key, kv.Value)
			if kv.Key == "tokenizer.ggml.tokens" {
				have = kv.Value.Len()
			}
		}
	}
	if have != n {
		return fmt.Errorf("vocabulary has %d tokens, shape wants %d", have, n)
	}
	return nil
}

type fill func(row []float32, r *rand.Rand)

// normal: N(0, 0.02²) weights; small: N(0, 0.1²) biases; ones: norms.
func normal(row []float32, r *rand.Rand) {
	for i := range row {
		row[i] = float32(r.NormFloat64() * 0.02)
	}
}

func small(row []float32, r *rand.Rand) {
	for i := range row {
		row[i] = float32(r.NormFloat64() * 0.1)
	}
}

func ones(row []float32, _ *rand.Rand) {
	for i := range row {
		row[i] = 1
	}
}

// tensorAdder returns a function adding a tensor of type t, cols × rows
// (× more...), whose rows are drawn by fill from a per-tensor seed.
func tensorAdder(w *gguf.Writer) func(name string, t gguf.Type, cols, rows int, fill fill, more ...int) {
	seed := uint64(0)
	return func(name string, t gguf.Type, cols, rows int, fill fill, more ...int) {
		seed++
		tr, err := quant.Lookup(t)
		if err != nil {
			panic(err)
		}
		rb := tr.RowBytes(cols)
		dims := []uint64{uint64(cols)} // 1-D: norms and biases
		if rows > 1 {
			dims = append(dims, uint64(rows))
		}
		// A third dimension (experts) multiplies the rows.
		for _, m := range more {
			dims = append(dims, uint64(m))
			rows *= m
		}
		s := seed
		err = w.AddTensorFunc(name, t, dims, func(out io.Writer) error {
			r := rand.New(rand.NewPCG(s, 0x5eed))
			row := make([]float32, cols)
			buf := make([]byte, rb)
			for i := 0; i < rows; i++ {
				fill(row, r)
				tr.Quantize(buf, row)
				if _, err := out.Write(buf); err != nil {
					return err
				}
			}
			return nil
		}, uint64(rb*rows))
		if err != nil {
			panic(err)
		}
	}
}

// writeBERT writes a BERT encoder: 2-D weights of type wt, embeddings of
// positions and token types, norms and biases F32.
// The general.* keys are already set.
func writeBERT(w *gguf.Writer, set func(string, any), path string, sh shape, wt gguf.Type, voc *gguf.File) error {
	a := sh.arch
	set(a+".context_length", uint32(sh.ctx))
	set(a+".embedding_length", uint32(sh.embd))
	set(a+".block_count", uint32(sh.layers))
	set(a+".feed_forward_length", uint32(sh.ff))
	set(a+".attention.head_count", uint32(sh.heads))
	set(a+".attention.layer_norm_epsilon", sh.eps)
	set(a+".attention.causal", false)
	set(a+".pooling_type", uint32(2)) // CLS, as bge
	if err := copyVocab(set, voc, sh.vocab); err != nil {
		return err
	}
	add := tensorAdder(w)
	e := sh.embd
	add("token_embd.weight", wt, e, sh.vocab, normal)
	add("token_types.weight", gguf.TypeF32, e, 2, normal)
	add("position_embd.weight", gguf.TypeF32, e, sh.ctx, normal)
	add("token_embd_norm.weight", gguf.TypeF32, e, 1, ones)
	add("token_embd_norm.bias", gguf.TypeF32, e, 1, small)
	for l := 0; l < sh.layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		for _, m := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
			add(p+m+".weight", wt, e, e, normal)
			add(p+m+".bias", gguf.TypeF32, e, 1, small)
		}
		add(p+"attn_output_norm.weight", gguf.TypeF32, e, 1, ones)
		add(p+"attn_output_norm.bias", gguf.TypeF32, e, 1, small)
		add(p+"ffn_up.weight", wt, e, sh.ff, normal)
		add(p+"ffn_up.bias", gguf.TypeF32, sh.ff, 1, small)
		add(p+"ffn_down.weight", wt, sh.ff, e, normal)
		add(p+"ffn_down.bias", gguf.TypeF32, e, 1, small)
		add(p+"layer_output_norm.weight", gguf.TypeF32, e, 1, ones)
		add(p+"layer_output_norm.bias", gguf.TypeF32, e, 1, small)
	}
	return save(w, path)
}

// save writes the file under a temporary name, then renames it.
func save(w *gguf.Writer, path string) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.WriteTo(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// textWords is a small English word list; writeTexts draws from it.
var textWords = strings.Fields(`the a of and to in is was for on that with as by at from it be this are or an have not which one all
their has they were been more when there can who will also would its into time only some new other
than first then two after people may over about most made these many such years state city world
school during through where between under house water river small large old life day night music
book study system local group called known later began part number family place company home high
public while because several based since early work found film each both team name best every
country history power long area around being however series form often down united game still year
without light story different war market sea road animal child village bread garden tree dog cat
morning evening question answer simple quickly slowly bright dark warm cold green blue red white
black golden silver quiet`)

// writeTexts writes n texts of 10 to 60 words from a fixed seed, each a
// sentence (capitalised, commas now and then, a full stop).
func writeTexts(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(2026, 12))
	var txt, js strings.Builder
	for i := 0; i < n; i++ {
		k := 10 + r.IntN(51)
		var b strings.Builder
		for j := 0; j < k; j++ {
			w := textWords[r.IntN(len(textWords))]
			if j == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(w)
			if j < k-1 && r.IntN(12) == 0 {
				b.WriteByte(',')
			}
		}
		b.WriteByte('.')
		txt.WriteString(b.String() + "\n")
		q, _ := json.Marshal(b.String())
		js.Write(append(q, '\n'))
	}
	base := filepath.Join(dir, fmt.Sprintf("texts-%d", n))
	if err := os.WriteFile(base+".txt", []byte(txt.String()), 0o644); err != nil {
		return err
	}
	fmt.Println("writing", base+".txt", "and", base+".jsonl")
	return os.WriteFile(base+".jsonl", []byte(js.String()), 0o644)
}
