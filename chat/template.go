// Package chat turns a conversation into the prompt text a model expects,
// by rendering the model's Jinja chat template (tokenizer.chat_template in
// the GGUF file) the way Hugging Face transformers' apply_chat_template
// does: trim_blocks and lstrip_blocks on, with messages,
// add_generation_prompt, bos_token, eos_token, raise_exception and
// strftime_now in scope. Models without a template use a built-in one.
package chat

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // system, user or assistant (templates may know others)
	Content string
	// ToolCalls are an assistant turn's calls; ToolCallID and Name say
	// which call a tool turn answers.
	ToolCalls  []ToolCall
	ToolCallID string
	Name       string
	// Reasoning is an assistant turn's reasoning (reasoning_content);
	// templates see it as reasoning_content and, as gpt-oss's expects, as
	// thinking.
	Reasoning string
}

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	name   string
	source string
	bos    string
	eos    string
	tpl    *exec.Template
}

// DefaultBuiltin is the built-in template used for models whose file has
// no chat template.
const DefaultBuiltin = "chatml"

// FileTemplateName is the Name of a template read from the model file.
const FileTemplateName = "model"

// New parses a Jinja chat template; bos and eos are the texts of the
// model's BOS and EOS tokens (bos_token and eos_token in the template).
func New(name, source, bos, eos string) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat: template %s: parse: %v", name, r)
		}
	}()
	cfg := config.New()
	// As transformers' ImmutableSandboxedEnvironment.
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	const id = "/chat_template"
	loader, err := loaders.NewMemoryLoader(map[string]string{id: rewriteConditionals(source)})
	if err != nil {
		return nil, fmt.Errorf("chat: template %s: %w", name, err)
	}
	tpl, err := exec.NewTemplate(id, cfg, loader, environment)
	if err != nil {
		return nil, fmt.Errorf("chat: template %s: %s", name, oneLine(err.Error()))
	}
	return &Template{name: name, source: source, bos: bos, eos: eos, tpl: tpl}, nil
}

// Builtin returns the built-in template called name (see Builtins).
func Builtin(name, bos, eos string) (*Template, error) {
	src, ok := builtinSources[name]
	if !ok {
		return nil, fmt.Errorf("chat: unknown chat template %q (built-in: %s)", name, strings.Join(Builtins(), ", "))
	}
	return New(name, src, bos, eos)
}

// Builtins returns the names of the built-in templates, sorted.
func Builtins() []string {
	return slices.Sorted(maps.Keys(builtinSources))
}

// ForModel returns the template for a model file: the built-in called name
// when name is not empty, else the file's tokenizer.chat_template, else
// DefaultBuiltin. bos and eos are the texts of its BOS and EOS tokens.
func ForModel(f *gguf.File, name, bos, eos string) (*Template, error) {
	if name != "" {
		return Builtin(name, bos, eos)
	}
	src, err := f.GetString("tokenizer.chat_template", "")
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	if src == "" {
		return Builtin(DefaultBuiltin, bos, eos)
	}
	return New(FileTemplateName, src, bos, eos)
}

// Name returns the built-in's name, or FileTemplateName for a template
// read from the model file.
func (t *Template) Name() string { return t.name }

// Source returns the Jinja source.
func (t *Template) Source() string { return t.source }

// BOS returns the text of the BOS token the template was given.
func (t *Template) BOS() string { return t.bos }

// Render returns the prompt text for msgs. addGenerationPrompt appends the
// header of the assistant turn to come; vars are extra template variables
// (for example enable_thinking) and may be nil.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool, vars map[string]any) (out string, err error) {
	var raised string
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat: template %s: %v", t.name, r)
		}
	}()
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = messageVar(m)
	}
	data := map[string]any{}
	maps.Copy(data, vars)
	maps.Copy(data, map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.bos,
		"eos_token":             t.eos,
		"raise_exception": func(_ *exec.Evaluator, params *exec.VarArgs) (string, error) {
			msg := "raise_exception called"
			if len(params.Args) > 0 {
				msg = params.Args[0].String()
			}
			raised = msg
			return "", errors.New(msg)
		},
	})
	out, err = t.tpl.ExecuteToString(exec.NewContext(data))
	if err != nil {
		if raised != "" {
			return "", fmt.Errorf("chat: %s", raised)
		}
		return "", fmt.Errorf("chat: template %s: %s", t.name, oneLine(err.Error()))
	}
	return out, nil
}

// Prompt renders msgs with the generation prompt and tokenizes the text
// as llama.cpp does: BOS added as the vocabulary asks, special-token text
// parsed, and a BOS the template wrote removed first when the tokenizer
// adds its own (so the prompt does not begin with two).
func (t *Template) Prompt(tok *tokenizer.Tokenizer, msgs []Message, vars map[string]any) ([]int32, error) {
	return t.PromptWith(tok, msgs, vars, true, "")
}

// PromptWith is Prompt with or without the generation prompt, and with
// prefill appended to the rendered text: the beginning of the assistant's
// reply, which generation continues (llama-server's assistant prefill).
func (t *Template) PromptWith(tok *tokenizer.Tokenizer, msgs []Message, vars map[string]any, addGenerationPrompt bool, prefill string) ([]int32, error) {
	text, err := t.Render(msgs, addGenerationPrompt, vars)
	if err != nil {
		return nil, err
	}
	text += prefill
	if t.bos != "" && tok.AddBOS() {
		text = strings.TrimPrefix(text, t.bos)
	}
	return tok.Encode(text, true, true), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// environment is gonja's default one with Python's json.dumps as tojson,
// transformers' strftime_now, and a range that returns a list.
var environment = newEnvironment()

func newEnvironment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{})
	filters.Update(builtins.Filters)
	if err := filters.Replace("tojson", filterToJSON); err != nil {
		panic(err)
	}
	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("range", rangeFunction)
	ctx.Set("strftime_now", strftimeNow)
	ctx.Set("__cond", condFunction)
	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
}

// ContentBytes is the length of the messages' contents, a lower bound on
// the text the template renders from them.
func ContentBytes(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(strings.TrimSpace(m.Content))
	}
	return n
}
