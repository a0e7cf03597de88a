package main

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newGrammarCmd() *cobra.Command {
	var gbnf, schema string
	c := &cobra.Command{
		Use:   "grammar (--gbnf FILE | --schema FILE)",
		Short: "Check strings against a GBNF grammar or a JSON Schema: one JSON string per stdin line, true or false per line",
		Long: "Compile a GBNF grammar (llama.cpp's format) or a JSON Schema (converted to a grammar as the server\n" +
			"does for response_format), then read one JSON string per line from stdin and print true when the\n" +
			"whole string is a sentence of the grammar, false otherwise. A grammar or schema that does not\n" +
			"compile ends with exit status 1 and one line naming the problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (gbnf == "") == (schema == "") {
				return fmt.Errorf("give one of --gbnf FILE or --schema FILE")
			}
			g, err := (&grammarFlags{file: gbnf, schema: schema}).grammar()
			if err != nil {
				return err
			}
			in := bufio.NewScanner(cmd.InOrStdin())
			in.Buffer(make([]byte, 1<<20), 64<<20)
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			for n := 1; in.Scan(); n++ {
				var s string
				if err := json.Unmarshal(in.Bytes(), &s); err != nil {
					return fmt.Errorf("line %d: not a JSON string: %v", n, err)
				}
				fmt.Fprintln(out, g.Match(s))
			}
			return in.Err()
		},
	}
	c.Flags().StringVar(&gbnf, "gbnf", "", "GBNF grammar file")
	c.Flags().StringVar(&schema, "schema", "", "JSON Schema file")
	return c
}
