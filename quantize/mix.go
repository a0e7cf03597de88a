package quantize

import (
	"strconv"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
)

// This file chooses each tensor's type the way llama-quantize does
// (llama.cpp src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type, tensor_type_fallback).

type category int

const (
	catOther category = iota
	catTokenEmbd
	catAttnQ
	catAttnV
	catAttnK
	catAttnQKV
	catAttnKVB
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
	catOutput
)

func tensorCategory(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case name == "token_embd.weight" || name == "per_layer_token_embd.weight":
		return catTokenEmbd
	case strings.Contains(name, "attn_qkv.weight"):
		return catAttnQKV
	case strings.Contains(name, "attn_kv_b.weight"):
		return catAttnKVB
	case strings.Contains(name, "attn_v.weight"):
		return catAttnV
	case strings.Contains(name, "attn_k.weight"):
		return catAttnK
	case strings.Contains(name, "attn_q.weight"):
		return catAttnQ
	case strings.Contains(name, "attn_output.weight"):
		return catAttnOutput
	case strings.Contains(name, "ffn_up"):
		return catFFNUp
	case strings.Contains(name, "ffn_gate"):
		return catFFNGate
	case strings.Contains(name, "ffn_down"):
		return catFFNDown
	}
	return catOther
}

func (c category) isAttnV() bool { return c == catAttnV || c == catAttnQKV || c == catAttnKVB }

// nDims counts dimensions, ignoring trailing ones of size 1 (ggml_n_dims).
func nDims(dims []uint64) int {
	n := len(dims)
	for n > 1 && dims[n-1] == 1 {
		n--
	}
	return n
}

// allowsQuantization reports whether llama-quantize would convert the
// tensor: 2-D or 3-D weights other than norms, routers and a list of small
// special tensors.
func allowsQuantization(name string, dims []uint64) bool {
	if nDims(dims) < 2 || !strings.HasSuffix(name, "weight") {
		return false
	}
	for _, s := range []string{
		"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
		"ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
		"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
		"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
		"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
		"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
		"attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
		".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
	} {
		if strings.Contains(name, s) {
			return false
		}
	}
	return name != "position_embd.weight" && name != "token_types.weight"
}

// layerOf parses the block number of "blk.N.…" names (-1 for others).
func layerOf(name string) int {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1
	}
	i := strings.IndexByte(rest, '.')
	if i < 0 {
		return -1
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil {
		return -1
	}
	return n
}

// hparams are the model facts the mixes depend on.
type hparams struct {
	arch    string
	nLayer  int
	nHead   int
	nHeadKV int
	nExpert int
	is70B   bool
}

func (h *hparams) nGQA() int {
	if h.nHeadKV <= 0 {
		return 0
	}
	return h.nHead / h.nHeadKV
}

func readHparams(f *gguf.File) hparams {
	h := hparams{}
	h.arch, _ = f.GetString("general.architecture", "")
	first := func(key string) int {
		v, ok := f.Get(h.arch + "." + key)
		if !ok {
			return 0
		}
		if n, ok := v.Int(); ok {
			return int(n)
		}
		if s, ok := v.Ints(); ok && len(s) > 0 {
			return int(s[0])
		}
		return 0
	}
	h.nLayer = first("block_count")
	h.nHead = first("attention.head_count")
	h.nHeadKV = first("attention.head_count_kv")
	if h.nHeadKV == 0 {
		h.nHeadKV = h.nHead
	}
	h.nExpert = first("expert_count")
	h.is70B = h.arch == "llama" && h.nLayer == 80 && h.nHead != h.nHeadKV
	return h
}

// mixer holds the counters llama-quantize keeps while it walks the tensors
// in its order.
type mixer struct {
	ft             FileType
	h              hparams
	tied           bool // no output.weight: token_embd doubles as output
	nAttnV, iAttnV int
	nFFN           int
	iDown, iGate   int
	iUp            int
}

func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// layer returns the layer index and count used for per-layer choices: the
// running counter, or the block number of the name for MoE models.
func (m *mixer) layer(counter int, name string) (int, int) {
	if m.h.nExpert > 1 {
		if l := layerOf(name); l >= 0 {
			return l, m.nFFN
		}
	}
	return counter, m.nFFN
}

// choose is llama_tensor_get_type_impl: the mix's type for one tensor,
// starting from the file type's default t.
func (m *mixer) choose(t gguf.Type, name string, cols int, experts bool, cat category, outputType gguf.Type) gguf.Type {
	ft, h := m.ft, &m.h
	is := func(fts ...FileType) bool {
		for _, f := range fts {
			if ft == f {
				return true
			}
		}
		return false
	}
	switch {
	case cat == catOutput || (m.tied && cat == catTokenEmbd):
		switch {
		case outputType != noType:
			t = outputType
		case ft == FileTypeMXFP4MoE:
			t = gguf.TypeQ8_0
		case h.arch == "falcon" || cols%t.BlockSize() != 0:
			t = gguf.TypeQ8_0
		case is(FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ3_XXS, FileTypeIQ1_S, FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ1_M):
			t = gguf.TypeQ5_K
		case t != gguf.TypeQ8_0:
			t = gguf.TypeQ6_K
		}
	case ft == FileTypeMXFP4MoE:
		// Expert tensors (a third dimension over 1) in MXFP4, the rest Q8_0.
		t = gguf.TypeQ8_0
		if experts {
			t = gguf.TypeMXFP4
		}
	case cat == catTokenEmbd:
		switch {
		case is(FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ1_S, FileTypeIQ1_M):
			t = gguf.TypeQ2_K
		case is(FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ3_XXS):
			t = gguf.TypeIQ3_S
		case is(FileTypeTQ1_0, FileTypeTQ2_0):
			t = gguf.TypeQ4_K
		}
	case is(FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ1_S, FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ1_M):
		switch {
		case cat.isAttnV():
			if h.nGQA() >= 4 || h.nExpert >= 4 {
				t = gguf.TypeQ4_K
			} else if is(FileTypeIQ2_S, FileTypeIQ2_M) {
				t = gguf.TypeIQ3_S
			} else {
				t = gguf.TypeQ2_K
			}
			m.iAttnV++
		case h.nExpert == 8 && cat == catAttnK:
			t = gguf.TypeQ4_K
		case cat == catFFNDown:
			if m.iDown < m.nFFN/8 {
				if is(FileTypeIQ2_S, FileTypeIQ2_M) {
					t = gguf.TypeIQ3_S
				} else {
					t = gguf.TypeQ2_K
				}
			}
			m.iDown++
		case cat == catAttnOutput:
			if h.nExpert == 8 {
				t = gguf.TypeQ5_K
			} else if is(FileTypeIQ1_S, FileTypeIQ1_M) {
				t = gguf.TypeIQ2_XXS
			} else if is(FileTypeIQ2_S, FileTypeIQ2_M) {
				t = gguf.TypeIQ3_S
			}
		}
	case cat.isAttnV():
		t = m.attnV(t)
		m.iAttnV++
	case cat == catAttnK:
		switch {
		case h.nExpert == 8:
			t = gguf.TypeQ8_0
		case ft == FileTypeIQ3_XS:
			t = gguf.TypeIQ3_XXS
		case ft == FileTypeIQ3_XXS:
			t = gguf.TypeIQ2_S
		}
	case cat == catAttnQ:
		switch ft {
		case FileTypeIQ3_XS:
			t = gguf.TypeIQ3_XXS
		case FileTypeIQ3_XXS:
			t = gguf.TypeIQ2_S
		}
	case cat == catFFNDown:
		i, n := m.layer(m.iDown, name)
		t = m.ffnDown(t, i, n)
		m.iDown++
	case cat == catAttnOutput:
		t = m.attnOutput(t)
	case cat == catAttnQKV:
		switch ft {
		case FileTypeQ3_K_M, FileTypeQ3_K_L, FileTypeIQ3_M:
			t = gguf.TypeQ4_K
		case FileTypeQ4_K_M:
			t = gguf.TypeQ5_K
		case FileTypeQ5_K_M:
			t = gguf.TypeQ6_K
		}
	case cat == catFFNGate || cat == catFFNUp:
		counter := &m.iGate
		if cat == catFFNUp {
			counter = &m.iUp
		}
		i, n := m.layer(*counter, name)
		if ft == FileTypeIQ3_XS && i >= n/8 && i < 7*n/8 {
			t = gguf.TypeIQ3_XXS
		}
		*counter++
	}
	return t
}

func (m *mixer) attnV(t gguf.Type) gguf.Type {
	ft, h := m.ft, &m.h
	gqa4 := h.nGQA() >= 4
	switch {
	case ft == FileTypeQ2_K:
		t = gguf.TypeQ3_K
		if gqa4 {
			t = gguf.TypeQ4_K
		}
	case ft == FileTypeQ2_K_S && gqa4:
		t = gguf.TypeQ4_K
	case ft == FileTypeIQ3_XXS:
		t = gguf.TypeIQ3_S // no importance matrix here
		if gqa4 {
			t = gguf.TypeQ4_K
		}
	case (ft == FileTypeIQ3_XS || ft == FileTypeIQ3_S) && gqa4:
		t = gguf.TypeQ4_K
	case ft == FileTypeIQ3_M:
		t = gguf.TypeQ4_K
	case ft == FileTypeQ3_K_M:
		t = gguf.TypeQ4_K
		if m.iAttnV < 2 {
			t = gguf.TypeQ5_K
		}
	case ft == FileTypeQ3_K_L:
		t = gguf.TypeQ5_K
	case (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS) && gqa4:
		t = gguf.TypeQ5_K
	case (ft == FileTypeQ4_K_M || ft == FileTypeQ5_K_M) && useMoreBits(m.iAttnV, m.nAttnV):
		t = gguf.TypeQ6_K
	case ft == FileTypeQ4_K_S && m.iAttnV < 4:
		t = gguf.TypeQ5_K
	}
	if h.is70B && (t == gguf.TypeQ3_K || t == gguf.TypeQ4_K) {
		t = gguf.TypeQ5_K
	}
	if h.nExpert == 8 {
		t = gguf.TypeQ8_0
	}
	return t
}

func (m *mixer) ffnDown(t gguf.Type, i, n int) gguf.Type {
	ft, falcon := m.ft, m.h.arch == "falcon"
	switch {
	case ft == FileTypeQ2_K:
		t = gguf.TypeQ3_K
	case ft == FileTypeQ2_K_S:
		if i < n/8 {
			t = gguf.TypeQ4_K
		}
	case ft == FileTypeIQ3_XXS:
		t = gguf.TypeQ3_K // no importance matrix here
		if i < n/8 {
			t = gguf.TypeQ4_K
		}
	case ft == FileTypeQ3_K_M:
		switch {
		case i < n/16:
			t = gguf.TypeQ5_K
		case !falcon || useMoreBits(i, n):
			t = gguf.TypeQ4_K
		default:
			t = gguf.TypeQ3_K
		}
	case ft == FileTypeIQ3_M && (i < n/8 || (m.h.nExpert == 8 && useMoreBits(i, n))):
		t = gguf.TypeQ4_K
	case ft == FileTypeQ3_K_L:
		t = gguf.TypeQ5_K
		if falcon {
			t = gguf.TypeQ4_K
		}
	case ft == FileTypeQ4_K_M:
		if falcon {
			switch {
			case i < n/16:
				t = gguf.TypeQ6_K
			case useMoreBits(i, n):
				t = gguf.TypeQ5_K
			default:
				t = gguf.TypeQ4_K
			}
		} else if useMoreBits(i, n) {
			t = gguf.TypeQ6_K
		}
	case i < n/8 && (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS):
		t = gguf.TypeQ5_K
	case ft == FileTypeQ5_K_M && useMoreBits(i, n):
		t = gguf.TypeQ6_K
	case ft == FileTypeQ4_K_S && !falcon && i < n/8:
		t = gguf.TypeQ5_K
	}
	return t
}

func (m *mixer) attnOutput(t gguf.Type) gguf.Type {
	ft := m.ft
	if m.h.arch == "falcon" {
		if ft == FileTypeQ3_K_L {
			t = gguf.TypeQ4_K
		}
		return t
	}
	if m.h.nExpert == 8 {
		switch ft {
		case FileTypeQ2_K, FileTypeIQ3_XS, FileTypeIQ3_XXS, FileTypeQ3_K_S, FileTypeQ3_K_M, FileTypeIQ4_NL,
			FileTypeQ4_K_S, FileTypeQ4_K_M, FileTypeIQ3_S, FileTypeIQ3_M, FileTypeIQ4_XS:
			t = gguf.TypeQ5_K
		}
		return t
	}
	switch ft {
	case FileTypeQ2_K:
		t = gguf.TypeQ3_K
	case FileTypeIQ3_XXS:
		t = gguf.TypeIQ3_S
	case FileTypeQ3_K_M, FileTypeIQ3_M:
		t = gguf.TypeQ4_K
	case FileTypeQ3_K_L:
		t = gguf.TypeQ5_K
	}
	return t
}

// fallback replaces a type whose blocks do not fit the row length (as
// tensor_type_fallback), ending at F16 when nothing fits. llama-quantize
// aborts for types it has no fallback for (Q4_0, Q8_0, …); those fall back
// to F16 here, which is what the reference files were made with.
func fallback(t gguf.Type, cols int) (gguf.Type, bool) {
	if cols%t.BlockSize() == 0 {
		return t, false
	}
	switch t {
	case gguf.TypeIQ1_S, gguf.TypeIQ1_M, gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ2_S, gguf.TypeIQ3_XXS,
		gguf.TypeIQ3_S, gguf.TypeIQ4_XS:
		t = gguf.TypeIQ4_NL
	case gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeTQ1_0, gguf.TypeTQ2_0:
		t = gguf.TypeQ4_0
	case gguf.TypeQ4_K:
		t = gguf.TypeQ5_0
	case gguf.TypeQ5_K:
		t = gguf.TypeQ5_1
	case gguf.TypeQ6_K:
		t = gguf.TypeQ8_0
	default:
		t = gguf.TypeF16
	}
	if cols%t.BlockSize() != 0 {
		t = gguf.TypeF16
	}
	return t, true
}
