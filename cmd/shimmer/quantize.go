package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quantize"
)

func newQuantizeCmd() *cobra.Command {
	var (
		pure            bool
		outType, embTyp string
		threads         int
		quiet           bool
	)
	c := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf TYPE",
		Short: "Quantize an F32/F16/BF16 model to a type or a llama-quantize mix (Q4_K_M, Q8_0, …)",
		Long: "Quantize an F32, F16 or BF16 GGUF model as llama-quantize does. TYPE is a tensor type\n" +
			"or one of llama-quantize's mixes: " + strings.Join(quantize.FileTypeNames(), ", ") + ".\n" +
			"Mixes that need an importance matrix or types shimmer cannot produce are refused.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, out, typ := args[0], args[1], args[2]
			ft, err := quantize.ParseFileType(typ)
			if err != nil {
				return err
			}
			opts := quantize.Options{FileType: ft, Pure: pure, Threads: threads}
			if opts.OutputType, err = parseTypeFlag("--output-type", outType); err != nil {
				return err
			}
			if opts.TokenEmbeddingType, err = parseTypeFlag("--token-embedding-type", embTyp); err != nil {
				return err
			}
			if !quiet {
				opts.Progress = func(p quantize.Progress) {
					t := p.Tensor
					conv := t.From.String()
					if t.To != t.From {
						conv += " -> " + t.To.String()
					}
					if t.Fallback {
						conv += " (fallback: row length " + fmt.Sprint(t.Dims[0]) + ")"
					}
					fmt.Fprintf(os.Stderr, "[%*d/%d] %-32s %v %s (%3.0f%%)\n", len(fmt.Sprint(p.Count)), p.Index, p.Count, t.Name, t.Dims, conv, 100*float64(p.Written)/float64(max(1, p.Total)))
				}
			}
			return quantizeFile(in, out, opts)
		},
	}
	c.Flags().BoolVar(&pure, "pure", false, "give every tensor the mix's default type (no per-tensor choices)")
	c.Flags().StringVar(&outType, "output-type", "", "type of output.weight (for example q8_0)")
	c.Flags().StringVar(&embTyp, "token-embedding-type", "", "type of token_embd.weight")
	c.Flags().IntVarP(&threads, "threads", "t", 0, "threads (default: one per CPU)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	return c
}

// parseTypeFlag returns nil for an empty flag, else the named tensor type.
func parseTypeFlag(flag, s string) (*gguf.Type, error) {
	if s == "" {
		return nil, nil
	}
	t, ok := gguf.ParseType(s)
	if !ok {
		return nil, fmt.Errorf("quantize: %s: unknown tensor type %q", flag, s)
	}
	return &t, nil
}

// quantizeFile writes the quantized model next to out and renames it into
// place only when complete.
func quantizeFile(in, out string, opts quantize.Options) (err error) {
	if ai, e1 := os.Stat(in); e1 == nil {
		if bi, e2 := os.Stat(out); e2 == nil && os.SameFile(ai, bi) {
			return fmt.Errorf("quantize: output %s is the input file", out)
		}
	}
	f, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := quantize.Plan(f, opts); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = quantize.Quantize(f, io.Writer(tmp), opts); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if err = os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	return nil
}
