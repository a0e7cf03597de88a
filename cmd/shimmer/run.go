package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/shimmer-llm/shimmer/demo"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/grammar"
	"github.com/shimmer-llm/shimmer/model"
)

// modelFlags are the flags shared by commands that load a model.
type modelFlags struct {
	path    string // as given: a file, a name the store finds, or hf.co/ORG/REPO…
	name    string // the model's name once loaded (the store's, or the file's base name)
	file    string // the file loadWith loaded (path resolved through the store)
	threads int
	ctx     int
	memory  string
	ctk     string   // --cache-type-k
	ctv     string   // --cache-type-v
	loras   []string // --lora FILE[:SCALE]
	asBF16  bool     // --f16-as-bf16
	offline bool     // never pull (serve's --offline)
	// f16Cache makes F16 the KV cache default, as llama.cpp's (run, chat,
	// serve, bench); logits and embed keep F32, the reference's.
	f16Cache bool
	// demo lets the command run the built-in demo model when no -m is
	// given (run and chat); the others require a model.
	demo bool
	cmd  *cobra.Command // whose context bounds a pull
}

func (m *modelFlags) register(c *cobra.Command) {
	m.cmd = c
	usage := modelUsage + " (required)"
	if m.demo {
		usage = modelUsage + " (default: the built-in demo model, " + demo.Name + ")"
	}
	c.Flags().StringVarP(&m.path, "model", "m", "", usage)
	c.Flags().IntVarP(&m.threads, "threads", "t", 0, "threads to compute with (default: all CPUs)")
	c.Flags().IntVarP(&m.ctx, "ctx-size", "c", 0, "context size in tokens (default: the model's, at most 4096)")
	c.Flags().StringVar(&m.memory, "memory", "", "memory the model and its KV cache may take, e.g. 8GiB or 512MB (default: the machine's)")
	def := "f32"
	if m.f16Cache {
		def = "f16"
	}
	c.Flags().StringVar(&m.ctk, "cache-type-k", def, "KV cache type of the keys: f16 (half the memory), q8_0 (about a quarter) or f32 (also -ctk)")
	c.Flags().StringVar(&m.ctv, "cache-type-v", def, "KV cache type of the values: f16, q8_0 or f32 (also -ctv)")
	c.Flags().StringArrayVar(&m.loras, "lora", nil, "a LoRA adapter FILE[:SCALE] applied to the model (scale default 1; repeat for several)")
	c.Flags().BoolVar(&m.asBF16, "f16-as-bf16", false, "multiply F16 weights as BF16 where the CPU has BF16 dot products (AVX512_BF16): faster prompts, less accurate (weights and activations rounded to BF16)")
}

// adapters reads the --lora flags.
func (m *modelFlags) adapters() ([]engine.LoRA, error) {
	var out []engine.LoRA
	for _, s := range m.loras {
		l, err := engine.ParseLoRA(s)
		if err != nil {
			return nil, fmt.Errorf("--lora %s: %v", s, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// cacheTypes reads --cache-type-k and --cache-type-v.
func (m *modelFlags) cacheTypes() (model.CacheTypes, error) {
	k, err := model.ParseCacheType(m.ctk)
	if err != nil {
		return model.CacheTypes{}, fmt.Errorf("--cache-type-k: %v", err)
	}
	v, err := model.ParseCacheType(m.ctv)
	if err != nil {
		return model.CacheTypes{}, fmt.Errorf("--cache-type-v: %v", err)
	}
	return model.CacheTypes{K: k, V: v}, nil
}

func (m *modelFlags) load(seqs int) (*engine.Engine, error) {
	return m.loadWith(engine.Options{Sequences: seqs})
}

// loadWith loads the model with o, its threads and context from the flags.
func (m *modelFlags) loadWith(o engine.Options) (*engine.Engine, error) {
	if m.path == "" && !m.demo {
		return nil, fmt.Errorf("no model given (use -m MODEL.gguf)")
	}
	o, err := m.engineOptions(o)
	if err != nil {
		return nil, err
	}
	var e *engine.Engine
	if m.path == "" {
		fmt.Fprintf(os.Stderr, "shimmer: no -m MODEL given: using the built-in demo model %s (1.2 MB, MIT licence, a toy that writes short children's stories)\n", demo.Name)
		m.path, m.name = demo.Name, demo.Name // the name serve and chat show
		e, err = engine.LoadBytes(demo.Model(), o)
	} else {
		file, rerr := m.resolve()
		if rerr != nil {
			return nil, rerr
		}
		m.file = file
		e, err = engine.Load(file, o)
	}
	if err == nil && m.asBF16 {
		noteF16AsBF16(e.F16AsBF16())
	}
	return e, err
}

// noteF16AsBF16 tells on stderr what --f16-as-bf16 did: n matrices
// changed.
func noteF16AsBF16(n int) {
	if n == 0 {
		fmt.Fprintln(os.Stderr, "shimmer: --f16-as-bf16 has no effect here: the model has no F16 matrix it applies to (a decoder's attention, feed-forward and output matrices), or this CPU has no BF16 dot products (AVX512_BF16)")
		return
	}
	fmt.Fprintf(os.Stderr, "shimmer: --f16-as-bf16: %d F16 matrices multiply as BF16 (weights and activations rounded to BF16)\n", n)
}

// engineOptions adds the flags' threads, context, KV cache types and
// memory budget to o.
func (m *modelFlags) engineOptions(o engine.Options) (engine.Options, error) {
	if m.threads < 0 || m.ctx < 0 {
		return o, fmt.Errorf("threads and context size must not be negative")
	}
	o.Threads, o.Context, o.F16AsBF16 = m.threads, m.ctx, m.asBF16
	ct, err := m.cacheTypes()
	if err != nil {
		return o, err
	}
	o.CacheTypes = ct
	if o.LoRA, err = m.adapters(); err != nil {
		return o, err
	}
	if m.memory != "" {
		n, err := parseSize(m.memory)
		if err != nil {
			return o, fmt.Errorf("--memory: %v", err)
		}
		o.Memory = n
	}
	return o, nil
}

// modelUsage describes -m.
const modelUsage = "the model: a GGUF file, a name 'shimmer list' shows, or hf.co/ORG/REPO[:QUANT] (pulled first)"

// resolve finds the file -m names (pulling hf.co/… references) and sets
// m.name.
func (m *modelFlags) resolve() (string, error) {
	ctx := context.Background()
	if m.cmd != nil && m.cmd.Context() != nil {
		ctx = m.cmd.Context()
	}
	sm, err := resolveModelOffline(ctx, m.path, os.Stderr, m.offline)
	if err != nil {
		return "", err
	}
	m.name = sm.Name
	return sm.Path, nil
}

// samplingFlags are the sampling flags shared by run and chat.
type samplingFlags struct {
	so   engine.SampleOptions
	seed int64
}

func (s *samplingFlags) register(f *pflag.FlagSet) {
	s.so = engine.DefaultSampleOptions()
	so := &s.so
	f.Float32Var(&so.Temperature, "temp", so.Temperature, "temperature (0: greedy)")
	f.IntVar(&so.TopK, "top-k", so.TopK, "top-k sampling (0: off)")
	f.Float32Var(&so.TopP, "top-p", so.TopP, "top-p sampling (1: off)")
	f.Float32Var(&so.MinP, "min-p", so.MinP, "min-p sampling (0: off)")
	f.Float32Var(&so.RepeatPenalty, "repeat-penalty", so.RepeatPenalty, "penalty for repeated tokens (1: off)")
	f.IntVar(&so.RepeatLastN, "repeat-last-n", so.RepeatLastN, "how many recent tokens the repeat penalty considers")
	f.Float32Var(&so.PresencePenalty, "presence-penalty", 0, "presence penalty (0: off)")
	f.Float32Var(&so.FrequencyPenalty, "frequency-penalty", 0, "frequency penalty (0: off)")
	f.Int64VarP(&s.seed, "seed", "s", -1, "random seed (-1: random)")
}

// options checks the flags and returns them with the seed chosen.
func (s *samplingFlags) options() (engine.SampleOptions, error) {
	so := s.so
	if s.seed < 0 {
		so.Seed = rand.Uint64()
	} else {
		so.Seed = uint64(s.seed)
	}
	return so, checkSampling(so)
}

func newRunCmd() *cobra.Command {
	var (
		mf       modelFlags
		sf       samplingFlags
		n        int
		ignoreEO bool
		batch    string
		parallel int
		gf       grammarFlags
	)
	c := &cobra.Command{
		Use:   "run -m MODEL [flags] PROMPT | --batch FILE.jsonl",
		Short: "Generate the continuation of PROMPT (streamed to stdout; timings on stderr)",
		Long: "Generate the continuation of PROMPT, streamed to stdout, with timings on stderr.\n\n" +
			"With --batch FILE.jsonl (- for stdin), run many prompts together instead: each line is a JSON\n" +
			"object {\"prompt\": TEXT, and optionally \"max_tokens\", \"temperature\", \"top_k\", \"top_p\", \"min_p\",\n" +
			"\"repeat_penalty\", \"presence_penalty\", \"frequency_penalty\", \"seed\", \"stop\", \"ignore_eos\"}, the flags\n" +
			"giving the defaults. They run as --parallel sequences of one batch; the results are printed as\n" +
			"JSON lines in input order: {\"index\", \"text\", \"prompt_tokens\", \"cached_tokens\", \"tokens\",\n" +
			"\"stop_reason\"} or {\"index\", \"error\"}.",
		Args: func(cmd *cobra.Command, args []string) error {
			if batch != "" && len(args) != 0 {
				return fmt.Errorf("run takes no PROMPT with --batch")
			}
			if batch == "" && len(args) != 1 {
				return fmt.Errorf("run takes one PROMPT argument (or --batch FILE.jsonl)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			so, err := sf.options()
			if err != nil {
				return err
			}
			if batch != "" {
				return runBatch(cmd.Context(), &mf, batch, parallel, batchDefaults{so: so, seeded: sf.seed >= 0, maxTokens: n, ignoreEOG: ignoreEO}, os.Stdout)
			}
			g, err := gf.grammar()
			if err != nil {
				return err
			}
			e, err := mf.load(1)
			if err != nil {
				return err
			}
			defer e.Close()
			out := bufio.NewWriter(os.Stdout)
			opts := engine.GenerateOptions{SampleOptions: so, MaxTokens: n, IgnoreEOG: ignoreEO, Grammar: g}
			res, err := e.Generate(cmd.Context(), args[0], opts, func(t engine.Token) error {
				if t.Text == "" {
					return nil
				}
				if _, err := out.WriteString(t.Text); err != nil {
					return err
				}
				return out.Flush()
			})
			if term.IsTerminal(int(os.Stdout.Fd())) && res.Tokens > 0 {
				out.WriteString("\n")
			}
			out.Flush()
			if err != nil && !errors.Is(err, cmd.Context().Err()) {
				return err
			}
			printTimings(e, res)
			return nil
		},
	}
	mf.demo = true
	mf.f16Cache = true
	mf.register(c)
	f := c.Flags()
	f.IntVarP(&n, "n-predict", "n", -1, "number of tokens to generate (-1: until end of generation or a full context)")
	sf.register(f)
	gf.register(f)
	f.BoolVar(&ignoreEO, "ignore-eos", false, "keep generating past end-of-generation tokens")
	f.StringVar(&batch, "batch", "", "run the prompts of a JSON-lines file (- for stdin) together; see above")
	f.IntVar(&parallel, "parallel", 4, "with --batch: sequences generating at once")
	return c
}

func checkSampling(o engine.SampleOptions) error {
	switch {
	case o.Temperature < 0:
		return fmt.Errorf("--temp must be ≥ 0")
	case o.TopK < 0:
		return fmt.Errorf("--top-k must be ≥ 0")
	case o.TopP <= 0 || o.TopP > 1:
		return fmt.Errorf("--top-p must be in (0, 1]")
	case o.MinP < 0 || o.MinP > 1:
		return fmt.Errorf("--min-p must be in [0, 1]")
	case o.RepeatPenalty <= 0:
		return fmt.Errorf("--repeat-penalty must be > 0")
	case o.RepeatLastN < 0:
		return fmt.Errorf("--repeat-last-n must be ≥ 0")
	}
	return nil
}

func printTimings(e *engine.Engine, r engine.Result) {
	evaluated := r.PromptTokens - r.CachedTokens
	fmt.Fprintf(os.Stderr, "\nload:       %8.2f ms\n", ms(e.LoadTime))
	fmt.Fprintf(os.Stderr, "prompt:     %8.2f ms / %4d tokens (%8.2f tokens/s)\n", ms(r.PromptTime), evaluated, perSecond(evaluated, r.PromptTime))
	// The first generated token comes out of the prompt pass; the others
	// each took one decode step.
	steps := max(0, r.Tokens-1)
	fmt.Fprintf(os.Stderr, "generation: %8.2f ms / %4d tokens (%8.2f tokens/s)\n", ms(r.GenTime), r.Tokens, perSecond(steps, r.GenTime))
	fmt.Fprintf(os.Stderr, "stop:       %s\n", r.StopReason)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 || n == 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// parseSize reads a byte count: a number with an optional unit (K, M, G, T
// in powers of 1000 or, with an i, of 1024; a trailing B is optional).
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	mult := 1.0
	if strings.HasSuffix(t, "I") {
		t = strings.TrimSuffix(t, "I")
		for i, u := range "KMGT" {
			if strings.HasSuffix(t, string(u)) {
				t, mult = strings.TrimSuffix(t, string(u)), math.Pow(1024, float64(i+1))
			}
		}
	} else {
		for i, u := range "KMGT" {
			if strings.HasSuffix(t, string(u)) {
				t, mult = strings.TrimSuffix(t, string(u)), math.Pow(1000, float64(i+1))
			}
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || v <= 0 || math.IsInf(v*mult, 0) || v*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size (e.g. 8GiB, 512MB)", s)
	}
	return int64(v * mult), nil
}

// grammarFlags constrain the output: a GBNF file, a JSON Schema file, or
// any JSON value.
type grammarFlags struct {
	file, schema string
	json         bool
}

func (g *grammarFlags) register(f *pflag.FlagSet) {
	f.StringVar(&g.file, "grammar-file", "", "constrain the output to this GBNF grammar (llama.cpp's format)")
	f.StringVar(&g.schema, "json-schema", "", "constrain the output to JSON valid for this JSON Schema file")
	f.BoolVarP(&g.json, "json", "j", false, "constrain the output to a JSON value")
}

// grammar compiles the constraint the flags ask for (nil: none).
func (g *grammarFlags) grammar() (*grammar.Grammar, error) {
	n := 0
	for _, set := range []bool{g.file != "", g.schema != "", g.json} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, fmt.Errorf("give one of --grammar-file, --json-schema and --json")
	case g.file != "":
		src, err := os.ReadFile(g.file)
		if err != nil {
			return nil, err
		}
		return grammar.Compile(string(src))
	case g.schema != "":
		src, err := os.ReadFile(g.schema)
		if err != nil {
			return nil, err
		}
		return grammar.FromSchema(src)
	case g.json:
		return grammar.FromSchema([]byte(`true`)) // the schema true: any JSON value
	}
	return nil, nil
}
