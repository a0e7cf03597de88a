package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/store"
)

// resolveModel turns a -m argument into a model on disk: a file path, a
// name the store finds, or hf.co/ORG/REPO[:QUANT], pulled first.
func resolveModel(ctx context.Context, arg string, stderr io.Writer) (store.Model, error) {
	return resolveModelOffline(ctx, arg, stderr, false)
}

// resolveModelOffline is resolveModel that, offline, finds a reference in
// the store or fails instead of pulling it.
func resolveModelOffline(ctx context.Context, arg string, stderr io.Writer, offline bool) (store.Model, error) {
	s := store.Default()
	if store.LooksLikeRef(arg) {
		m, err := s.Find(arg)
		if err == nil {
			return m, nil
		}
		if offline {
			return store.Model{}, fmt.Errorf("%s is not in the store and --offline forbids pulling it: %w", arg, err)
		}
		r, err := store.ParseRef(arg)
		if err != nil {
			return store.Model{}, err
		}
		return pull(ctx, s, r, stderr)
	}
	return s.Find(arg)
}

// pull downloads r into the store with progress on stderr.
func pull(ctx context.Context, s *store.Store, r store.Ref, stderr io.Writer) (store.Model, error) {
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	bar := newProgressBar(stderr, tty)
	fmt.Fprintf(stderr, "pulling %s into %s\n", r, s.Dir)
	m, err := s.Pull(ctx, r, store.PullOptions{Progress: bar.update})
	bar.end()
	if err != nil {
		return store.Model{}, err
	}
	fmt.Fprintf(stderr, "pulled %s (%s, %s)\n", m.Name, human(m.Size), m.Path)
	return m, nil
}

// progressBar draws a download's progress: a bar redrawn in place with the
// speed and time left on a terminal, else a line every 10%.
type progressBar struct {
	w       io.Writer
	tty     bool
	file    string
	start   time.Time
	resumed int64
	step    int64 // plain output: the last tenth printed
	drawn   bool
}

func newProgressBar(w io.Writer, tty bool) *progressBar { return &progressBar{w: w, tty: tty} }

func (b *progressBar) update(p store.Progress) {
	if p.File != b.file {
		b.end()
		b.file, b.start, b.resumed, b.step = p.File, time.Now(), p.Resumed, -1
		if p.Resumed > 0 && !p.Finished {
			fmt.Fprintf(b.w, "resuming %s at %s\n", p.File, human(p.Resumed))
		}
	}
	pct := int64(100)
	if p.Total > 0 {
		pct = p.Done * 100 / p.Total
	}
	el := time.Since(b.start).Seconds()
	speed := 0.0
	if el > 0 {
		speed = float64(p.Done-b.resumed) / el
	}
	eta := "-"
	if speed > 0 && p.Total > p.Done {
		eta = time.Duration(float64(p.Total-p.Done) / speed * float64(time.Second)).Round(time.Second).String()
	}
	if !b.tty {
		if pct/10 > b.step || p.Finished {
			b.step = pct / 10
			state := ""
			if p.Finished {
				state = " done, sha256 verified"
			}
			fmt.Fprintf(b.w, "%s: %3d%% %s of %s, %s/s%s\n", p.File, pct, human(p.Done), human(p.Total), human(int64(speed)), state)
			if p.Finished {
				b.step = 11
			}
		}
		return
	}
	const width = 30
	fill := int(pct * width / 100)
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %s/%s %s/s ETA %s\x1b[K", filepath.Base(p.File), strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct,
		human(p.Done), human(p.Total), human(int64(speed)), eta)
	b.drawn = true
	if p.Finished {
		b.end()
	}
}

// end finishes a bar drawn in place.
func (b *progressBar) end() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
	}
	b.drawn = false
}

func newPullCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pull ORG/REPO[:QUANT] | ORG/REPO/FILE.gguf",
		Short: "Download a GGUF model from Hugging Face into shimmer's store",
		Long: "Download a GGUF model from Hugging Face (hf.co/ prefix optional) into shimmer's store\n" +
			"($SHIMMER_MODELS, default shimmer/models in the user cache directory). :QUANT picks the\n" +
			"file by quantization (e.g. :Q4_K_M); without it Q4_K_M is taken, else the smallest file.\n" +
			"Split models are fetched whole. An interrupted download resumes; every file is checked\n" +
			"against the repository's sha256 before it is kept. $HF_ENDPOINT names a mirror, $HF_TOKEN\n" +
			"authorises gated and private repositories.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := store.ParseRef(args[0])
			if err != nil {
				return err
			}
			_, err = pull(cmd.Context(), store.Default(), r, cmd.ErrOrStderr())
			return err
		},
	}
}

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the models found: shimmer's store, the Hugging Face cache, LM Studio, ollama, ./models",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := store.Default().List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tARCH\tPARAMS\tQUANT\tSIZE\tSOURCE\tPATH")
			for _, m := range ms {
				arch, params := m.Arch, humanCount(m.Params)
				if m.Err != nil {
					arch, params = "unreadable", "-"
				} else if m.Kind != "" && m.Kind != "model" {
					arch += " " + m.Kind
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, orDash(arch), params, orDash(m.Quant), human(m.Size), m.Source, m.Path)
			}
			return w.Flush()
		},
	}
}

func newShowCmd() *cobra.Command {
	var noTensors bool
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a model's metadata, tensors and memory, by name (as info does for a path)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := store.Default().Find(args[0])
			if err != nil {
				return err
			}
			f, err := gguf.Open(m.Path)
			if err != nil {
				return err
			}
			defer f.Close()
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			fmt.Fprintf(w, "name:        %s (%s)\n", m.Name, m.Source)
			printInfo(w, m.Path, f, !noTensors, 0)
			return nil
		},
	}
	c.Flags().BoolVar(&noTensors, "no-tensors", false, "omit the tensor list")
	return c
}

func newRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove models from shimmer's store (never from other tools' stores)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := store.Default()
			for _, a := range args {
				m, err := s.Remove(a)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s)\n", m.Name, human(m.Size))
			}
			return nil
		},
	}
}
