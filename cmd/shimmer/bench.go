package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/compute"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/model"
)

func newBenchCmd() *cobra.Command {
	var (
		mf       modelFlags
		pp, tg   int
		reps     int
		format   string
		parallel int
		depth    int
		bw       bool
	)
	c := &cobra.Command{
		Use:   "bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [-o md|json] [--parallel N] [-d DEPTH]",
		Short: "Measure prompt processing (ppN) and generation (tgN) speed, like llama-bench",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "json" {
				return fmt.Errorf("output format %q: use md or json", format)
			}
			if pp < 0 || tg < 0 || reps < 1 || parallel < 0 || depth < 0 {
				return fmt.Errorf("-p, -n, -d and --parallel must not be negative, -r must be positive")
			}
			if mf.path == "" {
				return fmt.Errorf("no model given (use -m MODEL.gguf)")
			}
			ct, err := mf.cacheTypes()
			if err != nil {
				return err
			}
			file, err := mf.resolve()
			if err != nil {
				return err
			}
			ads, err := mf.adapters()
			if err != nil {
				return err
			}
			e, err := engine.LoadBench(file, mf.threads)
			if err != nil {
				return err
			}
			defer e.Close()
			if mf.asBF16 {
				noteF16AsBF16(e.MultiplyF16AsBF16())
			}
			if err := e.AddLoRA(ads); err != nil {
				return err
			}
			res, err := engine.Bench(e.Model, e.Pool, engine.BenchOptions{Prompt: pp, Gen: tg, Reps: reps, Parallel: parallel, Depth: depth, CacheTypes: ct, LoRA: e.LoRA, LoRAScales: e.LoRAScales})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var bwNote string
			if bw {
				// Decode reads each active weight once a token: how close it
				// comes to the memory's read rate.
				rate := compute.ReadBandwidth(e.Pool, 1<<30, 5)
				per := float64(model.ActiveBytes(e.File, e.Model.Hyper()))
				for i := range res {
					if strings.HasPrefix(res[i].Test, "tg") && !strings.Contains(res[i].Test, "x") {
						res[i].BandwidthFraction = per * res[i].Mean / rate
					}
				}
				bwNote = fmt.Sprintf("read bandwidth %.1f GB/s (%d threads, 1 GiB); a token reads %.1f MB of weights", rate/1e9, e.Pool.Threads(), per/1e6)
			}
			if format == "json" {
				if bwNote != "" {
					fmt.Fprintln(cmd.ErrOrStderr(), bwNote)
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			size := int64(0)
			if st, err := os.Stat(file); err == nil {
				size = st.Size()
			}
			h := e.Model.Hyper()
			fmt.Fprintf(w, "| model | size | arch | threads | test | t/s |\n")
			fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: |\n")
			name := mf.name
			for _, r := range res {
				fmt.Fprintf(w, "| %s | %.2f GiB | %s | %d | %s | %.2f ± %.2f |\n",
					name, float64(size)/(1<<30), h.Arch, e.Pool.Threads(), r.Test, r.Mean, r.StdDev)
			}
			repack := "weights are repacked during the warm-up"
			if h.Experts > 0 {
				repack = "experts repacked at load, the other weights during the warm-up"
			}
			for _, r := range res {
				if r.BandwidthFraction > 0 {
					fmt.Fprintf(w, "\n%s: %.0f%% of the read bandwidth\n", r.Test, 100*r.BandwidthFraction)
				}
			}
			if bwNote != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), bwNote)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "load %v (not timed above; %s)\n", e.LoadTime.Round(time.Millisecond), repack)
			return nil
		},
	}
	mf.f16Cache = true
	mf.register(c)
	c.Flags().IntVarP(&pp, "n-prompt", "p", 512, "prompt tokens of the pp test (0: skip)")
	c.Flags().IntVarP(&tg, "n-gen", "n", 128, "generated tokens of the tg test (0: skip)")
	c.Flags().IntVarP(&reps, "repetitions", "r", 5, "repetitions of each test")
	c.Flags().StringVarP(&format, "output", "o", "md", "output format: md or json")
	c.Flags().IntVar(&parallel, "parallel", 0, "also measure N sequences decoding together (aggregate t/s)")
	c.Flags().BoolVar(&bw, "bandwidth", false, "also measure the memory read bandwidth and report decode as a fraction of it")
	c.Flags().IntVarP(&depth, "n-depth", "d", 0, "tokens already in the context when each test starts (as llama-bench's -d; tests named ppN@dD)")
	return c
}
