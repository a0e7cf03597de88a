package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
)

const keyPrefix = "tokenizer.ggml."

// New reads the vocabulary of f. An unknown tokenizer model or
// pre-tokenizer is an error naming it.
func New(f *gguf.File) (*Tokenizer, error) {
	if f == nil {
		return nil, errors.New("tokenizer: no file")
	}
	model, err := f.GetString(keyPrefix+"model", "")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	pre, err := f.GetString(keyPrefix+"pre", "")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t := &Tokenizer{model: model, bos: -1, eos: -1, eot: -1, eom: -1, unk: -1, sep: -1, pad: -1,
		lowercase: true, stripAccent: true, byteEncode: true}
	var fimPre, fimSuf, fimMid, fimPad, fimRep, fimSep, mask int32 = -1, -1, -1, -1, -1, -1, -1

	switch model {
	case "":
		return nil, errors.New("tokenizer: the file has no tokenizer.ggml.model")
	case "llama":
		t.fam = famSPM
		t.bos, t.eos, t.unk = 1, 2, 0
		t.pre = ""
	case "bert":
		t.fam = famWPM
		t.bos, t.unk, t.sep, t.pad, mask = 101, 100, 102, 0, 103
		t.pre = ""
	case "gpt2":
		t.fam = famBPE
		t.bos, t.eos = 11, 11
	case "gemma4":
		t.fam = famBPE
		pre = "gemma4"
	case "none", "no_vocab":
		return nil, fmt.Errorf("tokenizer: the file has no vocabulary (tokenizer.ggml.model = %q)", model)
	default:
		return nil, fmt.Errorf("tokenizer: unknown or unsupported tokenizer model %q", model)
	}

	switch t.fam {
	case famBPE:
		t.cleanSpaces = true
		if err := t.setPre(pre); err != nil {
			return nil, err
		}
	case famSPM:
		t.addSpacePrefix, t.addBOS = true, true
	case famWPM:
		t.cleanSpaces, t.addBOS, t.addSep = true, true, true
	}
	if err := getBool(f, "add_space_prefix", &t.addSpacePrefix); err != nil {
		return nil, err
	}

	if err := t.loadTokens(f); err != nil {
		return nil, err
	}
	n := int32(len(t.tokens))

	// Special tokens: defaults outside the vocabulary are dropped, and a key
	// naming an id outside it leaves the default.
	specialKeys := []struct {
		key string
		id  *int32
	}{
		{"bos_token_id", &t.bos}, {"eos_token_id", &t.eos}, {"eot_token_id", &t.eot},
		{"eom_token_id", &t.eom}, {"unknown_token_id", &t.unk}, {"seperator_token_id", &t.sep},
		{"padding_token_id", &t.pad}, {"mask_token_id", &mask},
		{"fim_pre_token_id", &fimPre}, {"fim_suf_token_id", &fimSuf}, {"fim_mid_token_id", &fimMid},
		{"fim_pad_token_id", &fimPad}, {"fim_rep_token_id", &fimRep}, {"fim_sep_token_id", &fimSep},
		{"prefix_token_id", &fimPre}, {"suffix_token_id", &fimSuf}, {"middle_token_id", &fimMid},
	}
	for _, s := range specialKeys {
		if *s.id >= n {
			*s.id = -1
		}
		v, ok := f.Get(keyPrefix + s.key)
		if !ok {
			continue
		}
		x, ok := v.Int()
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s%s is not an integer", keyPrefix, s.key)
		}
		if x >= 0 && x < int64(n) {
			*s.id = int32(x)
		}
	}

	for _, b := range []struct {
		key string
		v   *bool
	}{{"add_bos_token", &t.addBOS}, {"add_eos_token", &t.addEOS}, {"add_sep_token", &t.addSep}} {
		if err := getBool(f, b.key, b.v); err != nil {
			return nil, err
		}
	}
	if t.gemma4 {
		t.addBOS = true // the reference forces BOS for Gemma 4
	}
	if t.addBOS && t.bos < 0 {
		return nil, errors.New("tokenizer: add_bos_token is true, but bos_token_id is not set")
	}
	if t.addEOS && t.eos < 0 {
		return nil, errors.New("tokenizer: add_eos_token is true, but eos_token_id is not set")
	}
	if t.addSep && t.sep < 0 {
		return nil, errors.New("tokenizer: add_sep_token is true, but seperator_token_id is not set")
	}
	if err := getBool(f, "normalizer.lowercase", &t.lowercase); err != nil {
		return nil, err
	}
	t.stripAccent = t.lowercase
	if err := getBool(f, "normalizer.strip_accents", &t.stripAccent); err != nil {
		return nil, err
	}

	t.detectSpecials(&fimPre, &fimSuf, &fimMid, &fimPad, &fimRep, &fimSep)
	t.buildEOG(fimPad, fimRep, fimSep)
	t.fim = FIM{Pre: fimPre, Suf: fimSuf, Mid: fimMid, Pad: fimPad, Rep: fimRep, Sep: fimSep}

	for id := range t.tokens {
		if t.attrs[id]&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.specials = append(t.specials, int32(id))
		}
	}
	slices.SortStableFunc(t.specials, func(a, b int32) int { return len(t.tokens[b]) - len(t.tokens[a]) })
	if len(t.specials) > 16 {
		t.specialIdx = newSpecialIndex(t)
	}

	name, _ := f.GetString("general.name", "")
	arch, _ := f.GetString("general.architecture", "")
	t.modelAttrs(strings.ToLower(name), pre, arch)

	switch t.fam {
	case famBPE:
		if err := t.initBPE(f); err != nil {
			return nil, err
		}
	case famSPM:
		t.initSPM()
	}
	t.cache = &wordCache{m: map[string][]int32{}}
	return t, nil
}

func getBool(f *gguf.File, key string, dst *bool) error {
	v, err := f.GetBool(keyPrefix+key, *dst)
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	*dst = v
	return nil
}

// loadTokens reads the token texts, scores and types and builds the
// text -> id map.
func (t *Tokenizer) loadTokens(f *gguf.File) error {
	v, ok := f.Get(keyPrefix + "tokens")
	if !ok {
		return errors.New("tokenizer: the file has no tokenizer.ggml.tokens")
	}
	toks, ok := v.Strings()
	if !ok {
		return errors.New("tokenizer: tokenizer.ggml.tokens is not an array of strings")
	}
	n := len(toks)
	if n == 0 || n > 1<<30 {
		return fmt.Errorf("tokenizer: %d tokens", n)
	}
	t.tokens = toks
	if v, ok := f.Get(keyPrefix + "scores"); ok {
		if s, ok := v.Float32s(); ok {
			t.scores = s
		} else if s, ok := v.Ints(); ok && v.Elem == gguf.ValueInt32 {
			t.scores = make([]float32, len(s))
			for i, x := range s {
				t.scores[i] = float32(x)
			}
		} else {
			return errors.New("tokenizer: tokenizer.ggml.scores is not an array of float32 or int32")
		}
		if len(t.scores) < n {
			return fmt.Errorf("tokenizer: %d scores for %d tokens", len(t.scores), n)
		}
	}
	t.types = make([]TokenType, n)
	t.attrs = make([]uint16, n)
	for i := range t.types {
		t.types[i] = TypeNormal
	}
	if v, ok := f.Get(keyPrefix + "token_type"); ok {
		tt, ok := v.Any().([]int32)
		if !ok {
			return errors.New("tokenizer: tokenizer.ggml.token_type is not an array of int32")
		}
		if len(tt) < n {
			return fmt.Errorf("tokenizer: %d token types for %d tokens", len(tt), n)
		}
		for i := range t.types {
			t.types[i] = TokenType(tt[i])
		}
	}
	for i, ty := range t.types {
		switch ty {
		case TypeNormal:
			t.attrs[i] = attrNormal
		case TypeUnknown:
			t.attrs[i] = attrUnknown
		case TypeControl:
			t.attrs[i] = attrControl
		case TypeUserDefined:
			t.attrs[i] = attrUserDefined
		case TypeUnused:
			t.attrs[i] = attrUnused
		case TypeByte:
			t.attrs[i] = attrByte
		}
	}
	for i, s := range toks {
		if s == "" {
			if &t.tokens[0] == &toks[0] { // never write into the file's own slice
				t.tokens = slices.Clone(toks)
			}
			t.tokens[i] = fmt.Sprintf("[EMPTY_%d]", i)
		}
	}
	t.ids = newIDTable(t.tokens)
	for i, s := range t.tokens {
		if j, dup := t.ids.insert(s, int32(i)); dup {
			return fmt.Errorf("tokenizer: duplicate token in vocabulary: %q has ids %d and %d", s, j, i)
		}
		t.maxTokenLen = max(t.maxTokenLen, len(s))
	}
	return nil
}

// detectSpecials finds end-of-turn and fill-in-the-middle tokens by their
// text when the file does not name them, and marks them as control tokens,
// as the reference does.
func (t *Tokenizer) detectSpecials(fimPre, fimSuf, fimMid, fimPad, fimRep, fimSep *int32) {
	lists := []struct {
		id    *int32
		texts []string
	}{
		{&t.eot, []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
			"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}},
		{&t.eom, []string{"<|eom_id|>"}},
		{fimPre, []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
			"<|code_prefix|>", "<|prefix|>"}},
		{fimSuf, []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
			"<|code_suffix|>", "<|suffix|>"}},
		{fimMid, []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
			"<|code_middle|>", "<|middle|>"}},
		{fimPad, []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
		{fimRep, []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
		{fimSep, []string{"<|file_sep|>"}},
	}
	for _, l := range lists {
		if *l.id >= 0 {
			continue
		}
		// The reference takes the first match in its hash map's order; the
		// first text of the list is the likelier meaning.
		for _, s := range l.texts {
			if id, ok := t.ids.get(s); ok {
				*l.id = id
				t.attrs[id] |= attrControl
				break
			}
		}
	}
	// Control tokens whose text says "unused" are unused.
	for id, s := range t.tokens {
		if t.attrs[id]&attrControl != 0 && strings.Contains(s, "unused") {
			t.attrs[id] |= attrUnused
		}
	}
}

var eogTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
	"<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
	"<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
	"<｜end▁of▁sentence｜>", "[e~[",
}

// buildEOG collects the end-of-generation tokens.
func (t *Tokenizer) buildEOG(fimPad, fimRep, fimSep int32) {
	t.eog = map[int32]bool{}
	for _, id := range []int32{fimPad, fimRep, fimSep} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids.get(s); ok {
			t.eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	// gpt-oss: these are always rendered.
	for _, s := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.ids.get(s); ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	has := func(s string) (int32, bool) {
		id, ok := t.ids.get(s)
		return id, ok && t.eog[id]
	}
	// o200k_harmony / solar-open: <|end|> is not the end there.
	_, ret := has("<|return|>")
	_, call := has("<|call|>")
	_, calls := has("<|calls|>")
	_, flush := has("<|flush|>")
	if end, ok := has("<|end|>"); ok && ((ret && (call || calls)) || ((call || calls) && flush)) {
		delete(t.eog, end)
		t.attrs[end] = attrUserDefined
	}
	// Gemma 4 / PaddleOCR: </s> is an ordinary token when <|tool_response> is there.
	if _, ok := has("<|tool_response>"); ok {
		if s, ok := has("</s>"); ok {
			delete(t.eog, s)
			t.attrs[s] = attrNormal
		}
	}
}

// modelAttrs applies the reference's per-model lstrip/rstrip attributes.
func (t *Tokenizer) modelAttrs(name, pre, arch string) {
	set := func(s string, a uint16, on bool) {
		if id, ok := t.ids.get(s); ok {
			if on {
				t.attrs[id] |= a
			} else {
				t.attrs[id] &^= a
			}
		}
	}
	anyOf := func(s string, subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case anyOf(pre, "jina-v2-de", "jina-v2-es", "jina-v2-code") || anyOf(arch, "nomic-bert-moe", "jina-bert-v3"):
		set("<mask>", attrLStrip, true)
	case anyOf(name, "phi-3", "phi3"):
		for _, id := range t.specials {
			t.attrs[id] |= attrRStrip
		}
		set("</s>", attrRStrip, true)
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(s, attrRStrip, false)
		}
	case anyOf(name, "modern-bert"):
		set("[MASK]", attrLStrip, true)
	}
}
