package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/server"
	"github.com/shimmer-llm/shimmer/store"
)

func newServeCmd() *cobra.Command {
	var (
		mf       modelFlags
		host     string
		port     int
		parallel int
		queue    int
		batch    int
		apiKey   string
		alias    string
		tplName  string
		tplFile  string
		grace    time.Duration
		quiet    bool
		hosts    []string
		pooling  string
		cors     []string
		dir      string
		keep     time.Duration
		maxLoad  int
		ls       llamaServeFlags
		strict   bool
		tags     []string
	)
	c := &cobra.Command{
		Use:   "serve [-m MODEL | --models-dir DIR] [flags]",
		Short: "Serve an OpenAI-compatible HTTP API (chat and text completions) with continuous batching",
		Long: "Serve an OpenAI-compatible HTTP API: POST /v1/chat/completions and /v1/completions (streamed\n" +
			"or not), GET /v1/models, /health and /metrics (Prometheus), and llama-server's /tokenize and\n" +
			"/detokenize. Up to --parallel requests generate together in one batch; --queue more wait, and\n" +
			"past them requests get 503 with Retry-After. SIGINT or SIGTERM stops accepting, lets running\n" +
			"requests finish for --shutdown-grace, cancels the rest, and exits 0.\n\n" +
			"Without -m it serves every model 'shimmer list' finds (or those in --models-dir), each\n" +
			"loaded on its first request and unloaded after --keep-alive or to make room (--max-loaded);\n" +
			"the request's \"model\" picks one. ollama's API (/api/tags, /api/chat, …) is served beside\n" +
			"OpenAI's. With no model found, it serves the built-in demo model.\n\n" +
			"The API key also comes from $SHIMMER_API_KEY.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || queue < 1 || batch < 1 {
				return fmt.Errorf("--parallel, --queue and --batch-size must be at least 1")
			}
			// As llama-server's, serve's --ctx-size is the context of all
			// the sequences together: each of --parallel gets an equal part.
			if cmd.Flags().Changed("ctx-size") && mf.ctx > 0 && !ls.kvUnified {
				if mf.ctx < parallel {
					return fmt.Errorf("--ctx-size %d is shared by the %d sequences of --parallel: it must be at least %d", mf.ctx, parallel, parallel)
				}
				mf.ctx /= parallel
			}
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port must be in [0, 65535]")
			}
			if apiKey == "" {
				apiKey = os.Getenv("SHIMMER_API_KEY")
			}
			// With --jinja, --chat-template may be a template's source.
			jinja := ls.jinja && cmd.Flags().Changed("jinja")
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			if quiet {
				log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			pool, err := poolingFlag(pooling)
			if err != nil {
				return err
			}
			eo := engine.Options{Sequences: parallel, QueueSize: queue, BatchSize: batch, Pooling: pool}
			// --alias a,b,c gives the model several names; as llama-server,
			// the first in sorted order is its id.
			var aliases []string
			for _, a := range strings.Split(alias, ",") {
				if a = strings.TrimSpace(a); a != "" && !slices.Contains(aliases, a) {
					aliases = append(aliases, a)
				}
			}
			slices.Sort(aliases)
			if len(aliases) > 0 {
				alias = aliases[0]
			}
			if len(aliases) == 1 {
				aliases = nil
			}
			so := server.Options{ModelName: alias, ModelAliases: aliases, ModelTags: tags, StrictModelName: strict, APIKey: apiKey, ShutdownGrace: grace, Logger: log, AllowedHosts: hosts, CORSOrigins: cors}
			if err := ls.apply(&mf, &so); err != nil {
				return err
			}
			var (
				s       *server.Server
				cleanup func()
				what    []any
			)
			if mf.path == "" && maxLoad < 1 {
				return fmt.Errorf("--max-loaded must be at least 1")
			}
			models, adapters, st, err := discovered(mf.path, dir)
			if err != nil {
				return err
			}
			if len(models) > 0 {
				if len(mf.loras) > 0 {
					return fmt.Errorf("--lora applies to the model of -m; without -m, the adapters beside each model are found and requested as MODEL+ADAPTER")
				}
				s, what, err = serveMany(models, adapters, st, &mf, eo, so, tplName, tplFile, jinja, server.PoolOptions{KeepAlive: keep, MaxLoaded: maxLoad})
				cleanup = func() {
					if s != nil {
						s.Close()
					}
				}
			} else {
				if mf.path == "" {
					log.Info("no models found (shimmer list shows where it looks); serving the built-in demo model")
				}
				s, cleanup, what, err = serveOne(&mf, eo, so, tplName, tplFile, jinja)
			}
			if err != nil {
				return err
			}
			defer cleanup()
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); apiKey == "" && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
				log.Warn("listening beyond this machine without an API key (set --api-key); requests are answered only when their Host header is a loopback name or one of --allowed-hosts", "host", host)
			}
			log.Info("serving", append([]any{"url", "http://" + ln.Addr().String()}, what...)...)
			if err := s.Serve(cmd.Context(), ln); err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	mf.demo = true // the built-in demo model when discovery finds none
	mf.f16Cache = true
	mf.register(c)
	c.Flags().Lookup("ctx-size").Usage = "context size in tokens, shared evenly by the --parallel sequences as llama-server's is (default: the model's, at most 4096, for each sequence)"
	f := c.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0: every interface)")
	f.IntVar(&port, "port", 8080, "port to listen on (0: any free one)")
	f.IntVar(&parallel, "parallel", 4, "requests generating at once (sequences of the batch)")
	f.IntVar(&queue, "queue", 64, "requests that may wait for a free sequence")
	f.IntVarP(&batch, "batch-size", "b", 512, "most tokens one forward pass evaluates, prompt chunks included (smaller: smoother streams while long prompts are read)")
	f.StringVar(&apiKey, "api-key", "", "require this key as 'Authorization: Bearer KEY' (every endpoint but /health)")
	f.StringVar(&alias, "alias", "", "model name in the API (default: the file's base name); a,b,c: several names, the first in sorted order its id")
	f.StringSliceVar(&tags, "tags", nil, "with -m, tags /v1/models lists for the model (comma-separated, as llama-server's)")
	f.BoolVar(&strict, "strict-model-name", false, "with -m, refuse requests that name another model (404 model_not_found) instead of answering them with this one, as llama-server does")
	f.StringVar(&tplFile, "chat-template-file", "", templateFileFlag)
	f.StringVar(&tplName, "chat-template", "", "built-in chat template to use instead of the model's: "+strings.Join(chat.Builtins(), ", ")+" (with --jinja, also a template's Jinja source)"+
		" (default: the model's, else "+chat.DefaultBuiltin+")")
	f.DurationVar(&grace, "shutdown-grace", 10*time.Second, "on SIGTERM, how long running requests may finish before they are cancelled")
	f.BoolVarP(&quiet, "quiet", "q", false, "log warnings and errors only, not every request")
	f.StringArrayVar(&cors, "cors", nil, "let web pages from this origin (e.g. https://app.example.com; '*': any) call the API from a browser; repeatable (pages on http://localhost and http://127.0.0.1 always may)")
	f.StringVar(&pooling, "pooling", "", "for /v1/embeddings, "+poolingUsage)
	f.StringVar(&dir, "models-dir", "", "without -m, serve the GGUF files in this directory only (default: every model 'shimmer list' finds)")
	f.DurationVar(&keep, "keep-alive", 5*time.Minute, "without -m, how long an idle model stays loaded (negative: until another needs the room)")
	f.IntVar(&maxLoad, "max-loaded", 3, "without -m, the most models loaded at once (the least recently used idle one is unloaded first)")
	ls.register(f)
	f.StringSliceVar(&hosts, "allowed-hosts", nil, "without --api-key, Host names answered besides loopback ones (comma-separated; '*': any; guards against DNS rebinding)")
	return c
}

// discovered returns the models a serve without -m offers: those in dir,
// or every model the store finds (not adapters, vocab-only or unreadable
// files), and the LoRA adapters found. With -m it returns none.
func discovered(path, dir string) (ms, adapters []store.Model, st *store.Store, err error) {
	if path != "" {
		if dir != "" {
			return nil, nil, nil, fmt.Errorf("-m and --models-dir cannot be used together")
		}
		return nil, nil, nil, nil
	}
	st = store.Default()
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, nil, nil, fmt.Errorf("--models-dir %s: not a directory", dir)
		}
		st = store.OnlyDir(dir)
	}
	all, err := st.List()
	if err != nil {
		return nil, nil, nil, err
	}
	for _, m := range all {
		switch {
		case m.Err == nil && m.Kind == "model" && m.Params > 0:
			ms = append(ms, m)
		case m.Err == nil && m.Kind == "adapter" && m.Arch != "":
			adapters = append(adapters, m)
		}
	}
	if dir != "" && len(ms) == 0 {
		return nil, nil, nil, fmt.Errorf("--models-dir %s holds no GGUF models", dir)
	}
	if dir != "" {
		st.Dir = store.Default().Dir // pulls still go to shimmer's store
	}
	return ms, adapters, st, nil
}

// besideAdapters returns the adapters in m's directory made for m's
// architecture: they load with m at scale 0 and a request names one as
// MODEL+ADAPTER (the adapter's file name without .gguf).
func besideAdapters(m store.Model, adapters []store.Model) (names []string, loras []engine.LoRA) {
	for _, a := range adapters {
		if a.Arch == m.Arch && filepath.Dir(a.Path) == filepath.Dir(m.Path) {
			names = append(names, strings.TrimSuffix(filepath.Base(a.Path), ".gguf"))
			loras = append(loras, engine.LoRA{Path: a.Path, Scale: 0})
		}
	}
	return names, loras
}

// serveOne serves the model -m names (or the demo model).
func serveOne(mf *modelFlags, eo engine.Options, so server.Options, tplName, tplFile string, jinja bool) (*server.Server, func(), []any, error) {
	e, err := mf.loadWith(eo)
	if err != nil {
		return nil, nil, nil, err
	}
	tpl, err := modelTemplate(e, tplName, tplFile, jinja)
	if err != nil {
		e.Close()
		return nil, nil, nil, err
	}
	if so.ModelName == "" {
		so.ModelName = mf.name
	}
	so.ModelPath = mf.file
	so.ChatTemplate = tpl
	s, err := server.New(e, so)
	if err != nil {
		e.Close()
		return nil, nil, nil, err
	}
	o := e.Options()
	return s, func() { e.Close() }, []any{"model", so.ModelName, "chat_template", tpl.Name(), "parallel", o.Sequences, "context", o.Context,
		"queue", o.QueueSize, "threads", o.Threads, "load", e.LoadTime.Round(time.Millisecond)}, nil
}

// serveMany serves the models found, loading each on demand.
func serveMany(ms, adapters []store.Model, st *store.Store, mf *modelFlags, eo engine.Options, so server.Options, tplName, tplFile string, jinja bool, po server.PoolOptions) (*server.Server, []any, error) {
	if so.ModelName != "" {
		return nil, nil, fmt.Errorf("--alias names the one model of -m; without -m the models keep the names 'shimmer list' shows")
	}
	eo, err := mf.engineOptions(eo)
	if err != nil {
		return nil, nil, err
	}
	toModel := func(m store.Model) server.Model {
		path := m.Path
		names, loras := besideAdapters(m, adapters)
		sm := server.Model{Name: m.Name, Size: m.Size, Path: path, Details: server.DescribeModel(m.Arch, m.Params, m.Quant), Adapters: names,
			Load: func(ctx context.Context) (*engine.Engine, *chat.Template, error) {
				o := eo
				o.LoRA = loras
				e, err := engine.Load(path, o)
				if err != nil && len(loras) > 0 {
					// An adapter that does not fit must not take the
					// model down: serve it without its adapters.
					o.LoRA = nil
					var err2 error
					if e, err2 = engine.Load(path, o); err2 == nil {
						so.Logger.Warn("adapters beside the model not loaded", "model", m.Name, "error", err)
						err = nil
					}
				}
				if err != nil {
					return nil, nil, err
				}
				tpl, err := modelTemplate(e, tplName, tplFile, jinja)
				if err != nil {
					e.Close()
					return nil, nil, err
				}
				return e, tpl, nil
			}}
		if fi, err := os.Stat(path); err == nil {
			sm.Modified = fi.ModTime()
		}
		return sm
	}
	var models []server.Model
	var names []string
	for _, m := range ms {
		models = append(models, toModel(m))
		names = append(names, m.Name)
	}
	so.Pull = func(ctx context.Context, name string, progress func(status, file string, done, total int64)) (server.Model, error) {
		r, err := store.ParseRef(name)
		if err != nil {
			return server.Model{}, err
		}
		m, err := st.Pull(ctx, r, store.PullOptions{Progress: func(p store.Progress) {
			progress("pulling", p.File, p.Done, p.Total)
			if p.Finished {
				progress("verifying", p.File, p.Done, p.Total)
			}
		}})
		if err != nil {
			return server.Model{}, err
		}
		return toModel(m), nil
	}
	s, err := server.NewMulti(models, po, so)
	if err != nil {
		return nil, nil, err
	}
	return s, []any{"models", strings.Join(names, ", "), "keep_alive", po.KeepAlive, "max_loaded", po.MaxLoaded}, nil
}
