package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// loadTokenizer reads only the vocabulary of a model file.
func loadTokenizer(path string) (*tokenizer.Tokenizer, func(), error) {
	if path == "" {
		return nil, nil, fmt.Errorf("no model given (use -m MODEL.gguf)")
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := tokenizer.New(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return t, func() { f.Close() }, nil
}

func newTokenizeCmd() *cobra.Command {
	var (
		path                  string
		noBOS, special, jsonl bool
	)
	c := &cobra.Command{
		Use:   "tokenize -m MODEL [--no-bos] [--parse-special] [--jsonl | TEXT]",
		Short: "Print the token ids of TEXT as a JSON array",
		Long: "Print the token ids of TEXT as a JSON array. With --jsonl, read one JSON string per line of\n" +
			"stdin and print one JSON array per line.",
		Args: func(cmd *cobra.Command, args []string) error {
			if jsonl && len(args) != 0 || !jsonl && len(args) != 1 {
				return fmt.Errorf("tokenize takes one TEXT argument, or none with --jsonl")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, done, err := loadTokenizer(path)
			if err != nil {
				return err
			}
			defer done()
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			encode := func(s string) []byte {
				return appendIDs(nil, tok.Encode(s, !noBOS, special))
			}
			if !jsonl {
				out.Write(encode(args[0]))
				out.WriteByte('\n')
				return nil
			}
			return eachLine(os.Stdin, func(line []byte, n int) error {
				var s string
				if err := json.Unmarshal(line, &s); err != nil {
					return fmt.Errorf("stdin line %d: expected a JSON string: %v", n, err)
				}
				out.Write(encode(s))
				return out.WriteByte('\n')
			})
		},
	}
	c.Flags().StringVarP(&path, "model", "m", "", "path of the GGUF model (or vocab) file (required)")
	c.Flags().BoolVar(&noBOS, "no-bos", false, "add no BOS/EOS tokens")
	c.Flags().BoolVar(&special, "parse-special", false, "turn special-token text such as <s> into special tokens")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "read JSON strings from stdin, one per line")
	return c
}

func newDetokenizeCmd() *cobra.Command {
	var (
		path             string
		jsonl, noSpecial bool
	)
	c := &cobra.Command{
		Use:   "detokenize -m MODEL [--jsonl | ID...]",
		Short: "Print the text of token ids",
		Long: "Print the text of the token ids. With --jsonl, read one JSON array of ids per line of stdin\n" +
			"and print one JSON string per line.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonl && len(args) != 0 {
				return fmt.Errorf("detokenize takes no arguments with --jsonl")
			}
			tok, done, err := loadTokenizer(path)
			if err != nil {
				return err
			}
			defer done()
			n := int64(tok.NumTokens())
			check := func(ids []int64) ([]int32, error) {
				out := make([]int32, len(ids))
				for i, id := range ids {
					if id < 0 || id >= n {
						return nil, fmt.Errorf("token id %d out of range [0, %d)", id, n)
					}
					out[i] = int32(id)
				}
				return out, nil
			}
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			if !jsonl {
				ids := make([]int64, len(args))
				for i, a := range args {
					if ids[i], err = strconv.ParseInt(a, 10, 64); err != nil {
						return fmt.Errorf("%q is not a token id", a)
					}
				}
				t, err := check(ids)
				if err != nil {
					return err
				}
				out.WriteString(tok.Decode(t, !noSpecial))
				return nil
			}
			return eachLine(os.Stdin, func(line []byte, ln int) error {
				var ids []int64
				if err := json.Unmarshal(line, &ids); err != nil {
					return fmt.Errorf("stdin line %d: expected a JSON array of ids: %v", ln, err)
				}
				t, err := check(ids)
				if err != nil {
					return fmt.Errorf("stdin line %d: %w", ln, err)
				}
				b, _ := json.Marshal(tok.Decode(t, !noSpecial))
				out.Write(b)
				return out.WriteByte('\n')
			})
		},
	}
	c.Flags().StringVarP(&path, "model", "m", "", "path of the GGUF model (or vocab) file (required)")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "read JSON arrays of ids from stdin, one per line")
	c.Flags().BoolVar(&noSpecial, "no-special", false, "omit the text of control tokens such as </s>")
	return c
}

func appendIDs(b []byte, ids []int32) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return append(b, ']')
}

// eachLine calls fn for every non-empty line of r (1-based numbers).
func eachLine(r io.Reader, fn func(line []byte, n int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(sc.Bytes(), n); err != nil {
			return err
		}
	}
	return sc.Err()
}
