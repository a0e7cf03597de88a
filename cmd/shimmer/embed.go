package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/model"
)

func newEmbedCmd() *cobra.Command {
	var (
		m                  modelFlags
		pooling            string
		noNormalize, jsonl bool
		batch              int
	)
	c := &cobra.Command{
		Use:   "embed -m MODEL [--pooling P] [--no-normalize] [--jsonl | TEXT...]",
		Short: "Print the embedding of each TEXT as a JSON array of floats",
		Long: "Print the embedding of each TEXT as a JSON array of floats, one line per text, in order.\n" +
			"Vectors are L2-normalised unless --no-normalize is given. With --jsonl, read one JSON string\n" +
			"per line of stdin and print one array per line. The texts run together, each its own\n" +
			"sequence, in passes of up to --batch-size tokens.",
		Args: func(cmd *cobra.Command, args []string) error {
			if jsonl && len(args) != 0 || !jsonl && len(args) == 0 {
				return fmt.Errorf("embed takes one or more TEXT arguments, or none with --jsonl")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.EmbedOptions{Raw: noNormalize}
			p, err := poolingFlag(pooling)
			if err != nil {
				return err
			}
			e, err := m.loadWith(engine.Options{BatchSize: batch, Pooling: p})
			if err != nil {
				return err
			}
			defer e.Close()
			if !e.IsEmbedding() {
				return engine.ErrNotEmbedding
			}
			texts := args
			if jsonl {
				texts = nil
				if err := eachLine(os.Stdin, func(line []byte, n int) error {
					var s string
					if err := json.Unmarshal(line, &s); err != nil {
						return fmt.Errorf("stdin line %d: expected a JSON string: %v", n, err)
					}
					texts = append(texts, s)
					return nil
				}); err != nil {
					return err
				}
			}
			vs, err := e.Embed(context.Background(), texts, o)
			if err != nil {
				return err
			}
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			// encoding/json writes a float32 with the fewest digits that
			// read back as the same value.
			enc := json.NewEncoder(out)
			for _, v := range vs {
				if err := enc.Encode(v); err != nil {
					return err
				}
			}
			return nil
		},
	}
	m.register(c)
	c.Flags().StringVar(&pooling, "pooling", "", poolingUsage)
	c.Flags().BoolVar(&noNormalize, "no-normalize", false, "print the pooled vectors as the model computes them")
	c.Flags().BoolVar(&jsonl, "jsonl", false, "read one JSON string per stdin line")
	c.Flags().IntVarP(&batch, "batch-size", "b", 2048, "most tokens one pass evaluates")
	return c
}

func newRerankCmd() *cobra.Command {
	var (
		m   modelFlags
		raw bool
	)
	c := &cobra.Command{
		Use:   "rerank -m MODEL [--raw] QUERY DOC...",
		Short: "Score each DOC's relevance to QUERY with a reranker",
		Long: "Print a JSON array [{\"index\": i, \"relevance_score\": s}, …] in document order. The score is\n" +
			"the classifier's output as llama-server reports it (a logit, no sigmoid); with --raw each\n" +
			"entry also has \"scores\": every output of the classifier, as llama.cpp computes them.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := m.loadWith(engine.Options{BatchSize: 2048})
			if err != nil {
				return err
			}
			defer e.Close()
			res, err := e.Rerank(context.Background(), args[0], args[1:])
			if err != nil {
				return err
			}
			type entry struct {
				Index  int       `json:"index"`
				Score  float32   `json:"relevance_score"`
				Scores []float32 `json:"scores,omitempty"`
			}
			list := make([]entry, len(res))
			for i, r := range res {
				list[i] = entry{Index: r.Index, Score: r.Score}
				if raw {
					list[i].Scores = r.All
				}
			}
			b, err := json.Marshal(list)
			if err != nil {
				return err
			}
			fmt.Println(string(b))
			return nil
		},
	}
	m.register(c)
	c.Flags().BoolVar(&raw, "raw", false, "also print every classifier output")
	return c
}

const poolingUsage = "pooling instead of the model's: none, mean, cls, last, rank (a chat model embeds with mean, cls or last)"

// poolingFlag reads --pooling (nil when not given).
func poolingFlag(s string) (*model.Pooling, error) {
	if s == "" {
		return nil, nil
	}
	p, err := model.ParsePooling(s)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
