package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/server"
)

// llama-server's command line on shimmer serve. Flags that mean something
// here are shimmer's own flags or aliases of them (registered by
// llamaServerFlags); flags that only tune llama.cpp's internals are
// accepted and dropped with one warning line (llamaServerArgs); any other
// unknown flag is still an error.

// llamaIgnored are llama-server's flags that tune its own internals
// (GPUs, memory locking, threads of its HTTP pool, …), with whether they
// take a value. -fa takes one only when it is on, off or auto.
var llamaIgnored = map[string]bool{
	"-ngl": true, "--n-gpu-layers": true, "--gpu-layers": true, "-dev": true, "--device": true,
	"-sm": true, "--split-mode": true, "-ts": true, "--tensor-split": true, "-mg": true, "--main-gpu": true,
	"--numa": true, "-tb": true, "--threads-batch": true, "--cache-reuse": true, "-dt": true, "--defrag-thold": true,
	"--timeout": true, "-to": true, "--threads-http": true, "--poll": true, "-C": true, "--cpu-mask": true,
	"-Cr": true, "--cpu-range": true, "--prio": true, "--slot-save-path": true, "-ncmoe": true, "--n-cpu-moe": true,
	"-ot": true, "--override-tensor": true, "-lv": true, "--verbosity": true, "--log-file": true,
	"--ctx-checkpoints": true, "-cram": true, "--cache-ram": true, "--slot-prompt-similarity": true, "-sps": true,
	"--mlock": false, "--no-mmap": false, "--mmap": false, "--no-warmup": false, "--log-disable": false,
	"--webui": false,
	"-nkvo":   false, "--no-kv-offload": false, "--swa-full": false,
	"--check-tensors": false, "--no-op-offload": false,
	"-nr": false, "--no-repack": false, "--perf": false, "--no-perf": false, "--log-colors": false,
	"--no-prefill-assistant": false, "-fa": false, "--flash-attn": false,
	"--grp-attn-n": true, "-gan": true, "--grp-attn-w": true, "-gaw": true, "--reasoning-format": true,
	"--media-path": true, "--sleep-idle-seconds": true, "--no-cache-idle-slots": false, "--ui-mcp-proxy": false,
	"--backend_sampling": false, "--spec-draft-n-max": true, "--spec-draft-n-min": true,
	"--no-models-autoload": false, "--models-max": true, "--models-preset": true,
}

// llamaAliases are llama-server's spellings that shimmer's pflag flags
// cannot declare (short flags of several letters) or that stand for a
// shimmer flag of another name.
var llamaAliases = map[string]string{
	"-ctk": "--cache-type-k", "-ctv": "--cache-type-v", "-np": "--parallel", "-ub": "--ubatch-size",
	"-cb": "--cont-batching", "-kvu": "--kv-unified", "--log-verbose": "--verbose", "--no-ui": "--no-webui", "-hf": "--hf-repo", "-hfr": "--hf-repo", "-hff": "--hf-file", "-s": "--seed", "-nocb": "--no-cont-batching",
	"--embeddings": "--embedding", "--rerank": "--reranking",
}

// llamaServerArgs rewrites a serve command line written for llama-server:
// its multi-letter short flags become the long ones, --lora-scaled FILE
// SCALE becomes --lora FILE:SCALE, and the internals-only flags (with
// their values) are dropped, named in one warning line on warn.
func llamaServerArgs(args []string, warn io.Writer) []string {
	out := make([]string, 0, len(args))
	var dropped []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, val, eq := strings.Cut(a, "=")
		if name == "--lora-scaled" && !eq && i+2 < len(args) {
			out = append(out, "--lora", args[i+1]+":"+args[i+2])
			i += 2
			continue
		}
		if takes, ok := llamaIgnored[name]; ok {
			d := a
			if (name == "-fa" || name == "--flash-attn") && !eq && i+1 < len(args) {
				switch args[i+1] {
				case "on", "off", "auto", "1", "0", "true", "false":
					d += " " + args[i+1]
					i++
				}
			} else if takes && !eq && i+1 < len(args) {
				d += " " + args[i+1]
				i++
			}
			dropped = append(dropped, d)
			continue
		}
		if long, ok := llamaAliases[name]; ok {
			if eq {
				a = long + "=" + val
			} else {
				a = long
			}
		}
		out = append(out, a)
	}
	if len(dropped) > 0 {
		fmt.Fprintf(warn, "shimmer: ignoring llama-server flags that tune llama.cpp's internals: %s\n", strings.Join(dropped, ", "))
	}
	return out
}

// llamaServeFlags are llama-server's flags that set serve's defaults for
// requests or choose its model and endpoints.
type llamaServeFlags struct {
	temp, topP, minP float32
	topK             int
	seed             int64
	nPredict         int
	ubatch           int
	hfRepo, hfFile   string
	offline          bool
	noJinja, jinja   bool
	slots, noSlots   bool
	noContBatching   bool
	contBatching     bool
	metrics          bool
	embedding        bool
	reranking        bool
	kvUnified        bool
	verbose          bool
	noUI             bool
	spmInfill        bool
	ctxShift         bool
	noCtxShift       bool
}

func (l *llamaServeFlags) register(f *pflag.FlagSet) {
	f.Float32Var(&l.temp, "temp", 0.8, "default temperature of requests that give none")
	f.IntVar(&l.topK, "top-k", 40, "default top-k of requests")
	f.Float32Var(&l.topP, "top-p", 0.95, "default top-p of requests")
	f.Float32Var(&l.minP, "min-p", 0.05, "default min-p of requests")
	f.Int64Var(&l.seed, "seed", -1, "default seed of requests (-1: a random one for each; also -s)")
	f.IntVarP(&l.nPredict, "n-predict", "n", -1, "default max_tokens of requests (-1: until the end of generation or the context)")
	f.IntVar(&l.ubatch, "ubatch-size", 0, "accepted for llama-server's command line; shimmer's batches are -b (also -ub)")
	f.StringVar(&l.hfRepo, "hf-repo", "", "serve ORG/REPO[:QUANT] from Hugging Face (pulled into the store first; also -hf)")
	f.StringVar(&l.hfFile, "hf-file", "", "with --hf-repo, the file of the repository to serve (also -hff)")
	f.BoolVar(&l.offline, "offline", false, "never download: --hf-repo must already be in the store")
	f.BoolVar(&l.noJinja, "no-jinja", false, "accepted for llama-server's command line (shimmer renders every chat template itself)")
	f.BoolVar(&l.slots, "slots", false, "answer GET /slots (llama-server's slot monitor)")
	f.BoolVar(&l.noSlots, "no-slots", false, "do not answer GET /slots (the default)")
	f.BoolVar(&l.noContBatching, "no-cont-batching", false, "accepted for llama-server's command line (shimmer always batches continuously)")
	f.BoolVar(&l.contBatching, "cont-batching", true, "accepted for llama-server's command line: shimmer always batches continuously (also -cb)")
	f.BoolVar(&l.jinja, "jinja", true, "accepted for llama-server's command line: chat templates are always rendered as Jinja")
	f.BoolVar(&l.metrics, "metrics", true, "accepted for llama-server's command line: GET /metrics is always served")
	f.BoolVar(&l.embedding, "embedding", false, "accepted for llama-server's command line: /v1/embeddings is served whenever the model can embed (see --pooling; also --embeddings)")
	f.BoolVar(&l.kvUnified, "kv-unified", false, "each of the --parallel sequences may use the whole --ctx-size (llama-server's one KV buffer for all slots; here each sequence gets its own, so the cache takes --parallel times the memory; also -kvu)")
	f.BoolVar(&l.ctxShift, "context-shift", false, "when prompt and completion fill a sequence's context, drop half of its tokens after the first n_keep (a request's field; default: the BOS only) and go on, instead of stopping")
	f.BoolVar(&l.noCtxShift, "no-context-shift", false, "stop when the context is full (the default)")
	f.BoolVar(&l.spmInfill, "spm-infill", false, "POST /infill puts the suffix before the prefix (suffix/prefix/middle), for models trained that way")
	f.BoolVar(&l.noUI, "no-webui", false, "do not serve the chat page at / (also --no-ui)")
	f.BoolVarP(&l.verbose, "verbose", "v", false, "add llama-server's __verbose object (the rendered prompt) to every chat response")
	f.BoolVar(&l.reranking, "reranking", false, "accepted for llama-server's command line: /v1/rerank is served whenever the model is a reranker (also --rerank)")
}

// apply sets the server's request defaults and resolves --hf-repo into
// -m (the model store pulls it unless --offline).
func (l *llamaServeFlags) apply(mf *modelFlags, so *server.Options) error {
	d := engine.DefaultSampleOptions()
	d.Temperature, d.TopK, d.TopP, d.MinP = l.temp, l.topK, l.topP, l.minP
	if l.temp < 0 || l.topK < 0 || l.topP < 0 || l.topP > 1 || l.minP < 0 || l.minP > 1 {
		return fmt.Errorf("--temp, --top-k must not be negative; --top-p and --min-p must be in [0, 1]")
	}
	if d.TopP == 0 {
		d.TopP = 1e-9 // llama.cpp's top-p 0 keeps one token
	}
	so.Defaults = &d
	so.Verbose, so.NoUI = l.verbose, l.noUI
	so.ContextShift = l.ctxShift && !l.noCtxShift
	so.SPMInfill = l.spmInfill
	if l.seed != -1 && uint32(l.seed) != 0xffffffff {
		d.Seed, so.DefaultSeed = uint64(l.seed), true
	}
	if l.nPredict > 0 {
		so.DefaultMaxTokens = l.nPredict
	}
	if l.hfFile != "" && l.hfRepo == "" {
		return fmt.Errorf("--hf-file needs --hf-repo")
	}
	if l.hfRepo != "" {
		if mf.path != "" {
			return fmt.Errorf("-m and --hf-repo cannot be used together")
		}
		ref := "hf.co/" + strings.TrimPrefix(l.hfRepo, "hf.co/")
		if l.hfFile != "" {
			ref = strings.SplitN(ref, ":", 2)[0] + "/" + l.hfFile
		}
		mf.path, mf.offline = ref, l.offline
	}
	so.Slots = l.slots && !l.noSlots
	return nil
}
