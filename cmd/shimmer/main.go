// Command shimmer runs GGUF language models on the CPU: generation,
// model inspection, tokenization, logits dumps, benchmarks and an
// OpenAI-compatible server. It only parses flags; the work is done by the
// engine package.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit status. Errors end as
// one line on stderr.
func run(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "shimmer: internal error: %v\n", r)
			code = 2
		}
	}()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	root := newRootCmd()
	if len(args) > 0 && args[0] == "serve" {
		args = append([]string{"serve"}, llamaServerArgs(args[1:], os.Stderr)...)
	}
	root.SetArgs(llamaShortFlags(args))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shimmer: "+oneLine(err))
		return 1
	}
	return 0
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "shimmer",
		Short:         "Run GGUF language models on the CPU, in pure Go",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see 'shimmer %s --help')", c.Name(), err, c.Name())
	})
	root.AddCommand(
		newRunCmd(),
		newInfoCmd(),
		newTokenizeCmd(),
		newDetokenizeCmd(),
		newLogitsCmd(),
		newQuantizeCmd(),
		newServeCmd(),
		newChatCmd(),
		newBenchCmd(),
		newGrammarCmd(),
		newEmbedCmd(),
		newRerankCmd(),
		newPullCmd(),
		newListCmd(),
		newShowCmd(),
		newRmCmd(),
	)
	return root
}

// llamaFlags are llama.cpp's multi-letter short flags, which pflag cannot
// declare (its short flags are one letter): they are read as the long
// flags they stand for.
var llamaFlags = map[string]string{"-ctk": "--cache-type-k", "-ctv": "--cache-type-v", "-np": "--parallel"}

func llamaShortFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		name, val, eq := strings.Cut(a, "=")
		if long, ok := llamaFlags[name]; ok {
			if eq {
				a = long + "=" + val
			} else {
				a = long
			}
		}
		out = append(out, a)
	}
	return out
}

// oneLine flattens an error message onto one line.
func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
