package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/server"
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
	)
	c := &cobra.Command{
		Use:   "serve [-m MODEL] [flags]",
		Short: "Serve an OpenAI-compatible HTTP API (chat and text completions) with continuous batching",
		Long: "Serve an OpenAI-compatible HTTP API: POST /v1/chat/completions and /v1/completions (streamed\n" +
			"or not), GET /v1/models, /health and /metrics (Prometheus), and llama-server's /tokenize and\n" +
			"/detokenize. Up to --parallel requests generate together in one batch; --queue more wait, and\n" +
			"past them requests get 503 with Retry-After. SIGINT or SIGTERM stops accepting, lets running\n" +
			"requests finish for --shutdown-grace, cancels the rest, and exits 0.\n\n" +
			"The API key also comes from $SHIMMER_API_KEY.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || queue < 1 || batch < 1 {
				return fmt.Errorf("--parallel, --queue and --batch-size must be at least 1")
			}
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port must be in [0, 65535]")
			}
			if apiKey == "" {
				apiKey = os.Getenv("SHIMMER_API_KEY")
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			if quiet {
				log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			}
			pool, err := poolingFlag(pooling)
			if err != nil {
				return err
			}
			e, err := mf.loadWith(engine.Options{Sequences: parallel, QueueSize: queue, BatchSize: batch, Pooling: pool})
			if err != nil {
				return err
			}
			defer e.Close()
			tpl, err := modelTemplate(e, tplName, tplFile)
			if err != nil {
				return err
			}
			if alias == "" {
				alias = mf.name
			}
			s, err := server.New(e, server.Options{ModelName: alias, APIKey: apiKey, ChatTemplate: tpl, ShutdownGrace: grace, Logger: log, AllowedHosts: hosts, CORSOrigins: cors})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); apiKey == "" && (ip == nil || !ip.IsLoopback()) && host != "localhost" {
				log.Warn("listening beyond this machine without an API key (set --api-key); requests are answered only when their Host header is a loopback name or one of --allowed-hosts", "host", host)
			}
			o := e.Options()
			log.Info("serving", "url", "http://"+ln.Addr().String(), "model", alias, "chat_template", tpl.Name(),
				"parallel", o.Sequences, "context", o.Context, "queue", o.QueueSize, "threads", o.Threads, "load", e.LoadTime.Round(time.Millisecond))
			if err := s.Serve(cmd.Context(), ln); err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	mf.demo = true // until discovery finds models: the built-in demo model without -m
	mf.register(c)
	f := c.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0: every interface)")
	f.IntVar(&port, "port", 8080, "port to listen on (0: any free one)")
	f.IntVar(&parallel, "parallel", 4, "requests generating at once (sequences of the batch)")
	f.IntVar(&queue, "queue", 64, "requests that may wait for a free sequence")
	f.IntVarP(&batch, "batch-size", "b", 512, "most tokens one forward pass evaluates, prompt chunks included (smaller: smoother streams while long prompts are read)")
	f.StringVar(&apiKey, "api-key", "", "require this key as 'Authorization: Bearer KEY' (every endpoint but /health)")
	f.StringVar(&alias, "alias", "", "model name in the API (default: the file's base name)")
	f.StringVar(&tplFile, "chat-template-file", "", templateFileFlag)
	f.StringVar(&tplName, "chat-template", "", "built-in chat template to use instead of the model's: "+strings.Join(chat.Builtins(), ", ")+
		" (default: the model's, else "+chat.DefaultBuiltin+")")
	f.DurationVar(&grace, "shutdown-grace", 10*time.Second, "on SIGTERM, how long running requests may finish before they are cancelled")
	f.BoolVarP(&quiet, "quiet", "q", false, "log warnings and errors only, not every request")
	f.StringArrayVar(&cors, "cors", nil, "let web pages from this origin (e.g. https://app.example.com; '*': any) call the API from a browser; repeatable (pages on http://localhost and http://127.0.0.1 always may)")
	f.StringVar(&pooling, "pooling", "", "for /v1/embeddings, "+poolingUsage)
	f.StringSliceVar(&hosts, "allowed-hosts", nil, "without --api-key, Host names answered besides loopback ones (comma-separated; '*': any; guards against DNS rebinding)")
	return c
}
