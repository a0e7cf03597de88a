// Command dumpvocab writes the tokenizer keys of a vocab-only GGUF as JSON,
// for the oracle scripts beside it (see ../README.md). It is a triage tool,
// not part of the engine.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dumpvocab VOCAB.gguf > vocab.json")
		os.Exit(2)
	}
	f, err := gguf.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tk, err := tokenizer.New(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]any{}
	for _, k := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.scores"} {
		if v, ok := f.Get(k); ok {
			out[strings.TrimPrefix(k, "tokenizer.ggml.")] = v.Any()
		}
	}
	out["model"] = tk.Model()
	out["pre"] = tk.Pre()
	out["bos"] = tk.BOS()
	out["eos"] = tk.EOS()
	out["add_bos"] = tk.AddBOS()
	out["add_eos"] = tk.AddEOS()
	if v, ok := f.Get("general.name"); ok {
		out["name"] = v.Any()
	}
	for _, k := range []string{"tokenizer.ggml.add_space_prefix", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.unknown_token_id"} {
		if v, ok := f.Get(k); ok {
			out[strings.TrimPrefix(k, "tokenizer.ggml.")] = v.Any()
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
