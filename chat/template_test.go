package chat

import (
	"strings"
	"sync"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/internal/testdata"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

var (
	sysUser = []Message{{Role: "system", Content: "You are helpful."}, {Role: "user", Content: "Hi there"}}
	multi   = []Message{
		{Role: "system", Content: "You are helpful."},
		{Role: "user", Content: "Hi there"},
		{Role: "assistant", Content: "Hello! How can I help?"},
		{Role: "user", Content: "Tell me a joke."},
	}
)

func TestBuiltins(t *testing.T) {
	cases := []struct {
		name string
		msgs []Message
		gen  bool
		want string
	}{
		{"chatml", sysUser, true, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"},
		{"chatml", []Message{{Role: "user", Content: "a"}}, false, "<|im_start|>user\na<|im_end|>\n"},
		{"llama2", multi, true, "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi there [/INST] Hello! How can I help? </s><s>[INST] Tell me a joke. [/INST]"},
		{"llama2", []Message{{Role: "user", Content: " hi "}}, true, "<s>[INST] hi [/INST]"},
		{"llama3", multi, true, "<s><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>" +
			"<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"gemma", multi, true, "<s><start_of_turn>user\nYou are helpful.\n\nHi there<end_of_turn>\n" +
			"<start_of_turn>model\nHello! How can I help?<end_of_turn>\n" +
			"<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"},
		{"phi3", sysUser, true, "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\n"},
		{"phi3", []Message{{Role: "user", Content: "x"}}, false, "<|user|>\nx<|end|>\n</s>"},
		// llama.cpp's server test suite (test_apply_chat_template) gives
		// this rendering of its command-r template.
		{"command-r", []Message{{Role: "system", Content: "You are a test."}, {Role: "user", Content: "Hi there"}}, true,
			"<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a test.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
		{"mistral", multi, true, "<s>[INST] You are helpful.\n\nHi there [/INST]Hello! How can I help?</s>[INST] Tell me a joke. [/INST]"},
	}
	for _, c := range cases {
		tpl, err := Builtin(c.name, "<s>", "</s>")
		if err != nil {
			t.Fatal(err)
		}
		got, err := tpl.Render(c.msgs, c.gen, nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if got := Builtins(); strings.Join(got, ",") != "chatml,command-r,gemma,llama2,llama3,mistral,phi3" {
		t.Errorf("Builtins() = %v", got)
	}
}

func TestRaiseException(t *testing.T) {
	tpl, err := Builtin("llama2", "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render([]Message{{Role: "user", Content: "a"}, {Role: "user", Content: "b"}}, true, nil)
	if err == nil || err.Error() != "chat: Conversation roles must alternate user/assistant/user/assistant/..." {
		t.Fatalf("err = %v", err)
	}
	if _, err := Builtin("nope", "", ""); err == nil || !strings.Contains(err.Error(), "chatml") {
		t.Fatalf("unknown template: %v", err)
	}
	if _, err := New("bad", "{% for %}", "", ""); err == nil {
		t.Fatal("a broken template parsed")
	}
	// A panic inside the Jinja engine (gonja divides by zero on Python
	// string formatting) comes back as an error.
	bad, err := New("fmt", `{{ "%s" % ("a",) }}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Render(nil, true, nil); err == nil {
		t.Fatal("string formatting rendered")
	}
}

func TestHelpers(t *testing.T) {
	tpl, err := New("x", `{{ x | tojson }} {{ y | tojson(indent=2) }} {{ range(3) | list }} {{ 1.0 | tojson }} {{ 1e20 | tojson }}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render(nil, false, map[string]any{
		"x": map[string]any{"b": []any{1, "é\n<"}, "a": nil, "c": true},
		"y": []any{map[string]any{"k": 0.5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a": null, "b": [1, "é\n<"], "c": true} [
  {
    "k": 0.5
  }
] [0, 1, 2] 1.0 1e+20`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// loadFileTemplate reads the chat template of a vocab file with its BOS and
// EOS texts as transformers passes them.
func loadFileTemplate(t *testing.T, name string) *Template {
	t.Helper()
	f, err := gguf.Open(testdata.Path(t, "vocab", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _ := f.Get("tokenizer.ggml.tokens")
	toks, _ := v.Strings()
	text := func(key string) string {
		id, err := f.GetInt(key, -1)
		if err != nil || id < 0 || int(id) >= len(toks) {
			return ""
		}
		return toks[id]
	}
	tpl, err := ForModel(f, "", text("tokenizer.ggml.bos_token_id"), text("tokenizer.ggml.eos_token_id"))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Name() != FileTemplateName {
		t.Fatalf("template %q, want the file's", tpl.Name())
	}
	return tpl
}

// The expected strings follow the templates' semantics under transformers'
// apply_chat_template, worked out by hand.
func TestQwen3Template(t *testing.T) {
	tpl := loadFileTemplate(t, "ggml-vocab-qwen3.gguf")
	cases := []struct {
		msgs []Message
		gen  bool
		vars map[string]any
		want string
	}{
		{[]Message{{Role: "user", Content: "Hello"}}, true, nil,
			"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"},
		{[]Message{{Role: "user", Content: "Hello"}}, true, map[string]any{"enable_thinking": false},
			"<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
		// Reasoning in earlier assistant turns is dropped.
		{[]Message{
			{Role: "system", Content: "You are helpful."},
			{Role: "user", Content: "Hi there"},
			{Role: "assistant", Content: "<think>\nThe user greets me.\n</think>\n\nHello!"},
			{Role: "user", Content: "How are you?"},
		}, true, nil,
			"<|im_start|>system\nYou are helpful.<|im_end|>\n" +
				"<|im_start|>user\nHi there<|im_end|>\n" +
				"<|im_start|>assistant\nHello!<|im_end|>\n" +
				"<|im_start|>user\nHow are you?<|im_end|>\n" +
				"<|im_start|>assistant\n"},
		// The last assistant turn after the last query keeps a think block.
		{[]Message{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}}, false, nil,
			"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello<|im_end|>\n"},
	}
	for i, c := range cases {
		got, err := tpl.Render(c.msgs, c.gen, c.vars)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got != c.want {
			t.Errorf("case %d:\n got %q\nwant %q", i, got, c.want)
		}
	}
}

func TestLlama3FileTemplate(t *testing.T) {
	tpl := loadFileTemplate(t, "ggml-vocab-llama-bpe.gguf")
	if tpl.BOS() != "<|begin_of_text|>" {
		t.Fatalf("bos %q", tpl.BOS())
	}
	cases := []struct {
		msgs []Message
		gen  bool
		want string
	}{
		{[]Message{{Role: "user", Content: "Hello"}}, true,
			"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		// Contents are trimmed; this template adds the assistant header
		// whether or not a generation prompt is asked for.
		{[]Message{{Role: "system", Content: "  Be brief.\n"}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello."}}, false,
			"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n"},
	}
	for i, c := range cases {
		got, err := tpl.Render(c.msgs, c.gen, nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got != c.want {
			t.Errorf("case %d:\n got %q\nwant %q", i, got, c.want)
		}
	}
}

func TestNoFileTemplate(t *testing.T) {
	f, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tpl, err := ForModel(f, "", "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Name() != DefaultBuiltin {
		t.Fatalf("template %q, want %q", tpl.Name(), DefaultBuiltin)
	}
	if tpl, err = ForModel(f, "llama2", "<s>", "</s>"); err != nil || tpl.Name() != "llama2" {
		t.Fatalf("named: %v %v", tpl, err)
	}
}

func TestConcurrentRender(t *testing.T) {
	tpl := loadFileTemplate(t, "ggml-vocab-qwen3.gguf")
	want, err := tpl.Render(sysUser, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				got, err := tpl.Render(sysUser, true, nil)
				if err != nil || got != want {
					t.Errorf("concurrent render: %q %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestPyFloat(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.5: "0.5", 1e16: "1e+16", 1e15: "1000000000000000.0", 0.0001: "0.0001", 0.00001: "1e-05", -2.5: "-2.5"} {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

// A BOS written by the template is not doubled by the tokenizer's.
func TestPromptSingleBOS(t *testing.T) {
	f, err := gguf.Open(testdata.Path(t, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.New(f)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.AddBOS() {
		t.Skip("the vocabulary adds no BOS")
	}
	bos := tok.Text(tok.BOS())
	for _, name := range []string{"llama2", "chatml"} {
		tpl, err := ForModel(f, name, bos, tok.Text(tok.EOS()))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := tpl.Prompt(tok, []Message{{Role: "user", Content: "Once upon a time"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) < 2 || ids[0] != tok.BOS() || ids[1] == tok.BOS() {
			t.Errorf("%s: prompt begins %v (BOS %d)", name, ids[:min(4, len(ids))], tok.BOS())
		}
	}
}
