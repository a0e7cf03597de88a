package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/tokenizer"
)

// loadTokenizer reads only the vocabulary of a model file.
func loadTokenizer(path string) (*tokenizer.Tokenizer, func(), error) {
	if path == "" {
		return nil, nil, fmt.Errorf("no model given (use -m MODEL.gguf)")
	}
	m, err := resolveModel(context.Background(), path, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	f, err := gguf.Open(m.Path)
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
		path                          string
		noBOS, special, jsonl, pieces bool
	)
	c := &cobra.Command{
		Use:   "tokenize -m MODEL [--no-bos] [--parse-special] [--pieces] [--jsonl | TEXT]",
		Short: "Print the token ids of TEXT as a JSON array",
		Long: "Print the token ids of TEXT as a JSON array. With --pieces, print an array of\n" +
			"{\"id\": ID, \"piece\": TEXT} objects instead, TEXT being what the token stands for (control\n" +
			"tokens included; bytes that are not valid UTF-8 show as U+FFFD). With --jsonl, read one JSON\n" +
			"string per line of stdin and print one JSON array per line.",
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
			var buf []byte
			encode := func(s string) []byte {
				ids := tok.Encode(s, !noBOS, special)
				if pieces {
					buf = appendPieces(buf[:0], tok, ids, true, true)
				} else {
					buf = appendIDs(buf[:0], ids)
				}
				return buf
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
	c.Flags().StringVarP(&path, "model", "m", "", modelUsage+" (or a vocab-only GGUF; required)")
	c.Flags().BoolVar(&noBOS, "no-bos", false, "add no BOS/EOS tokens")
	c.Flags().BoolVar(&special, "parse-special", false, "turn special-token text such as <s> into special tokens")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "read JSON strings from stdin, one per line")
	c.Flags().BoolVar(&pieces, "pieces", false, "print each token's id and text")
	return c
}

func newDetokenizeCmd() *cobra.Command {
	var (
		path                     string
		jsonl, noSpecial, pieces bool
	)
	c := &cobra.Command{
		Use:   "detokenize -m MODEL [--no-special] [--pieces] [--jsonl | ID...]",
		Short: "Print the text of token ids",
		Long: "Print the text of the token ids. With --pieces, print a JSON array with the text of each\n" +
			"token instead (bytes that are not valid UTF-8 show as U+FFFD). With --jsonl, read one JSON\n" +
			"array of ids per line of stdin and print one JSON string (or array) per line.",
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
				if pieces {
					out.Write(appendPieces(nil, tok, t, !noSpecial, false))
					return out.WriteByte('\n')
				}
				out.WriteString(tok.Decode(t, !noSpecial))
				return nil
			}
			var buf []byte
			return eachLine(os.Stdin, func(line []byte, ln int) error {
				var ids []int64
				if err := json.Unmarshal(line, &ids); err != nil {
					return fmt.Errorf("stdin line %d: expected a JSON array of ids: %v", ln, err)
				}
				t, err := check(ids)
				if err != nil {
					return fmt.Errorf("stdin line %d: %w", ln, err)
				}
				if pieces {
					buf = appendPieces(buf[:0], tok, t, !noSpecial, false)
				} else {
					buf = appendJSONString(buf[:0], tok.Decode(t, !noSpecial))
				}
				out.Write(buf)
				return out.WriteByte('\n')
			})
		},
	}
	c.Flags().StringVarP(&path, "model", "m", "", modelUsage+" (or a vocab-only GGUF; required)")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "read JSON arrays of ids from stdin, one per line")
	c.Flags().BoolVar(&noSpecial, "no-special", false, "omit the text of control tokens such as </s>")
	c.Flags().BoolVar(&pieces, "pieces", false, "print the text of each token as a JSON array")
	return c
}

// appendPieces writes the pieces of ids as a JSON array: of objects with the
// id when withIDs, of strings otherwise.
func appendPieces(b []byte, tok *tokenizer.Tokenizer, ids []int32, special, withIDs bool) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',', ' ')
		}
		if withIDs {
			b = append(b, `{"id": `...)
			b = strconv.AppendInt(b, int64(id), 10)
			b = append(b, `, "piece": `...)
		}
		b = appendJSONString(b, tok.Piece(id, special))
		if withIDs {
			b = append(b, '}')
		}
	}
	return append(b, ']')
}

// appendJSONString writes s as a JSON string, leaving <, > and & as they
// are (invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hex[r&15])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
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
