package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/lora"
	"github.com/shimmer-llm/shimmer/model"
	"github.com/shimmer-llm/shimmer/store"
)

func newInfoCmd() *cobra.Command {
	var (
		noTensors bool
		ctx       int
	)
	c := &cobra.Command{
		Use:   "info MODEL",
		Short: "Show a model's metadata, tensors, types, parameter count and memory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if _, err := os.Stat(path); err != nil {
				if m, ferr := store.Default().Find(path); ferr == nil {
					path = m.Path // a name 'shimmer list' shows
				}
			}
			f, err := gguf.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			w := bufio.NewWriter(os.Stdout)
			defer w.Flush()
			printInfo(w, path, f, !noTensors, ctx)
			return nil
		},
	}
	c.Flags().BoolVar(&noTensors, "no-tensors", false, "omit the tensor list")
	c.Flags().IntVarP(&ctx, "ctx-size", "c", 0, "context size for the KV cache estimate (default: the model's, at most 4096)")
	return c
}

func printInfo(w *bufio.Writer, path string, f *gguf.File, tensors bool, ctx int) {
	fmt.Fprintf(w, "file:        %s\n", path)
	fmt.Fprintf(w, "format:      GGUF v%d, %s, alignment %d, %d metadata keys, %d tensors\n", f.Version, human(int64(f.Size)), f.Alignment, len(f.KV), len(f.Tensors))
	arch, _ := f.GetString("general.architecture", "")
	name, _ := f.GetString("general.name", "")
	fmt.Fprintf(w, "model:       %s (architecture %s)\n", orDash(name), orDash(arch))

	var params, bytes uint64
	byType := map[gguf.Type][2]uint64{}
	for _, t := range f.Tensors {
		params += t.Elements()
		bytes += t.Size
		c := byType[t.Type]
		byType[t.Type] = [2]uint64{c[0] + 1, c[1] + t.Elements()}
	}
	if len(f.Tensors) > 0 {
		fmt.Fprintf(w, "parameters:  %s (%d)\n", humanCount(params), params)
		var types []string
		for t, c := range byType {
			types = append(types, fmt.Sprintf("%s×%d (%.1f%%)", t, c[0], 100*float64(c[1])/float64(params)))
		}
		sort.Strings(types)
		fmt.Fprintf(w, "types:       %s\n", strings.Join(types, ", "))
		fmt.Fprintf(w, "weights:     %s (%.2f bits per weight), memory-mapped\n", human(int64(bytes)), 8*float64(bytes)/float64(params))
	}
	if lora.IsAdapter(f) {
		printAdapter(w, path, f)
	} else if len(f.Tensors) > 0 && arch != "" {
		m, err := model.New(f)
		if err != nil {
			fmt.Fprintf(w, "load check:  %v\n", err)
		} else if err := model.CheckTypes(f); err != nil {
			fmt.Fprintf(w, "load check:  %v\n", err)
		} else {
			h := m.Hyper()
			if h.Experts > 0 {
				a := model.ActiveParams(f, h)
				fmt.Fprintf(w, "active:      %s (%d) per token: %d of %d experts\n", humanCount(a), a, h.ExpertsUsed, h.Experts)
			}
			fmt.Fprintln(w, "\nhyperparameters:")
			for _, kv := range h.Describe() {
				fmt.Fprintf(w, "  %-22s %s\n", kv[0], kv[1])
			}
			n := ctx
			if n <= 0 {
				n = min(h.CtxTrain, 4096)
			}
			if model.IsEncoder(m) {
				fmt.Fprintf(w, "memory:      weights %s, no KV cache (an encoder: sequences of up to %d tokens)\n", human(int64(bytes)), n)
			} else if cache, err := model.NewKVCacheSize(h, 1, n, 512, model.CacheTypes{K: gguf.TypeF16, V: gguf.TypeF16}); err == nil {
				fmt.Fprintf(w, "memory:      weights %s + KV cache %s per sequence at %d tokens (F16; F32: twice that)\n", human(int64(bytes)), human(cache), n)
			}
		}
	}

	fmt.Fprintln(w, "\nmetadata:")
	for _, kv := range f.KV {
		fmt.Fprintf(w, "  %-40s %s\n", kv.Key, shortValue(kv.Value))
	}
	if tensors && len(f.Tensors) > 0 {
		fmt.Fprintln(w, "\ntensors:")
		for _, t := range f.Tensors {
			fmt.Fprintf(w, "  %-36s %-7s %-20s %s\n", t.Name, t.Type, fmt.Sprint(t.Dims), human(int64(t.Size)))
		}
	}
}

// printAdapter describes a LoRA adapter: its base architecture, rank,
// alpha and the weights it adapts, grouped by kind over the layers.
func printAdapter(w *bufio.Writer, path string, f *gguf.File) {
	a, err := lora.FromFile(f, path) // f stays the caller's to close
	if err != nil {
		fmt.Fprintf(w, "load check:  %v\n", err)
		return
	}
	lo, hi := a.Ranks()
	rank := fmt.Sprint(lo)
	if hi != lo {
		rank = fmt.Sprintf("%d–%d", lo, hi)
	}
	fmt.Fprintf(w, "adapter:     LoRA for a %s model, rank %s, alpha %g", a.Arch, rank, a.Alpha)
	if a.Alpha != 0 && lo == hi {
		fmt.Fprintf(w, " (B·A·x scaled by scale×%g)", a.Alpha/float32(lo))
	}
	fmt.Fprintln(w)
	kinds := map[string]int{}
	var order []string
	for _, p := range a.Pairs {
		k := p.Target
		if rest, ok := strings.CutPrefix(k, "blk."); ok {
			if i := strings.IndexByte(rest, '.'); i >= 0 {
				k = rest[i+1:]
			}
		}
		if kinds[k] == 0 {
			order = append(order, k)
		}
		kinds[k]++
	}
	sort.Strings(order)
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%s ×%d", strings.TrimSuffix(k, ".weight"), kinds[k]))
	}
	fmt.Fprintf(w, "targets:     %d weights: %s\n", len(a.Pairs), strings.Join(parts, ", "))
	fmt.Fprintf(w, "use:         shimmer run -m BASE.gguf --lora %s[:SCALE]\n", path)
}

func shortValue(v gguf.Value) string {
	s := v.String()
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func humanCount(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
