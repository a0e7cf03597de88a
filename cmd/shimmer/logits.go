package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/engine"
)

func newLogitsCmd() *cobra.Command {
	var (
		mf      modelFlags
		idsFlag string
		prompt  string
		outPath string
		genPath string
		gen     int
	)
	c := &cobra.Command{
		Use:   "logits -m MODEL (--ids \"1 2 3\" | --prompt TEXT) -o OUT.f32 [--gen N]",
		Short: "Write the logits of every prompt position, then generate greedily",
		Long: "Write the logits of every prompt position to OUT.f32 as little-endian float32 rows\n" +
			"[n_tokens × n_vocab], then generate N tokens greedily and print \"gen_ids: a b c\".\n" +
			"--gen-logits FILE also writes the logits after each generated token (n_gen rows).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if outPath == "" {
				return fmt.Errorf("no output file given (use -o OUT.f32)")
			}
			if (idsFlag == "") == (prompt == "") {
				return fmt.Errorf("give exactly one of --ids and --prompt")
			}
			if gen < 0 {
				return fmt.Errorf("--gen must be ≥ 0")
			}
			e, err := mf.load(1)
			if err != nil {
				return err
			}
			defer e.Close()
			var ids []int32
			if idsFlag != "" {
				for _, f := range strings.FieldsFunc(idsFlag, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
					v, err := strconv.ParseInt(f, 10, 32)
					if err != nil {
						return fmt.Errorf("--ids: %q is not a token id", f)
					}
					ids = append(ids, int32(v))
				}
				if len(ids) == 0 {
					return fmt.Errorf("--ids is empty")
				}
			} else {
				ids = e.Tokenizer().Encode(prompt, true, true)
			}
			out, err := os.Create(outPath)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(out)
			var gw *bufio.Writer
			if genPath != "" {
				gf, err := os.Create(genPath)
				if err != nil {
					out.Close()
					return err
				}
				defer gf.Close()
				gw = bufio.NewWriter(gf)
			}
			var werr error
			buf := make([]byte, 4*e.Hyper().Vocab)
			writeRow := func(w *bufio.Writer, row []float32) {
				for i, v := range row {
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
				if _, err := w.Write(buf[:4*len(row)]); err != nil && werr == nil {
					werr = err
				}
			}
			var genIDs []int32
			opts := engine.GenerateOptions{
				MaxTokens: max(gen, 1),
				IgnoreEOG: true,
				OnLogits: func(pos int, logits []float32) {
					if pos < len(ids) {
						writeRow(w, logits)
					} else if gw != nil && pos-len(ids) < gen {
						writeRow(gw, logits)
					}
				},
			}
			if gen > 0 && gw != nil {
				// One more step evaluates the last generated token, so its
				// logits row exists as in the reference files.
				opts.MaxTokens = gen + 1
			}
			_, err = e.GenerateTokens(cmd.Context(), ids, opts, func(t engine.Token) error {
				if t.ID >= 0 && len(genIDs) < gen {
					genIDs = append(genIDs, t.ID)
				}
				return nil
			})
			if err != nil {
				out.Close()
				return err
			}
			if err := w.Flush(); err != nil && werr == nil {
				werr = err
			}
			if err := out.Close(); err != nil && werr == nil {
				werr = err
			}
			if gw != nil {
				if err := gw.Flush(); err != nil && werr == nil {
					werr = err
				}
			}
			if werr != nil {
				return werr
			}
			if gen > 0 {
				fmt.Printf("gen_ids: %s\n", joinIDs(genIDs))
			}
			return nil
		},
	}
	mf.register(c)
	c.Flags().StringVar(&idsFlag, "ids", "", "prompt token ids, separated by spaces or commas")
	c.Flags().StringVarP(&prompt, "prompt", "p", "", "prompt text (tokenized with BOS and special tokens)")
	c.Flags().StringVarP(&outPath, "output", "o", "", "file for the prompt logits (float32 rows)")
	c.Flags().StringVar(&genPath, "gen-logits", "", "file for the logits after each generated token")
	c.Flags().IntVar(&gen, "gen", 0, "tokens to generate greedily after the prompt")
	return c
}

func joinIDs(ids []int32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}
