// Package server is an OpenAI-compatible HTTP API over an engine:
// /v1/chat/completions and /v1/completions (streamed as server-sent events
// or not), /v1/models, /health, /metrics (Prometheus), and llama-server's
// /tokenize and /detokenize.
//
// Requests run through the engine's continuous-batching scheduler: each
// is a sequence of the shared batch, so up to engine.Options.Sequences
// requests generate together and further ones wait in its bounded queue
// (past it: 503 with Retry-After). A request's context flows to its
// sequence: a client that disconnects frees its sequence at the next
// decode step.
//
//	e, _ := engine.Load("model.gguf", engine.Options{Sequences: 4})
//	s, _ := server.New(e, server.Options{ModelName: "my-model"})
//	http.ListenAndServe("127.0.0.1:8080", s)
package server

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

// Options configure a Server. Zero values pick the defaults.
type Options struct {
	// ModelName is the model id that /v1/models lists and responses name
	// (default "shimmer").
	ModelName string
	// StrictModelName makes a one-model server refuse a request that names
	// another model (OpenAI's 404 model_not_found). By default it answers
	// any name with its one model, as llama-server does, so that clients
	// with a model name of their own configured work unchanged. A server of
	// many models always routes by name.
	StrictModelName bool
	// ModelAliases are more names of the one model New serves (requests
	// may give any; /v1/models lists them as llama-server's "aliases"),
	// ModelTags its tags there, and ModelPath its file (/props
	// model_path).
	ModelAliases []string
	ModelTags    []string
	ModelPath    string
	// ContextShift makes room in a full context instead of stopping, for
	// every request (llama-server's --context-shift; engine.GenerateOptions).
	ContextShift bool
	// SPMInfill puts /infill's suffix before its prefix (llama-server's
	// --spm-infill, for models trained that way).
	SPMInfill bool
	// NoUI turns off the chat page served at / (llama-server's --no-webui):
	// / then answers 404.
	NoUI bool
	// Verbose adds llama-server's __verbose object (the rendered prompt)
	// to every chat response, as its --verbose does.
	Verbose bool
	// APIKey, when set, is required as "Authorization: Bearer KEY" on
	// every endpoint but /health.
	APIKey string
	// ChatTemplate renders chat messages (default: chat.ForModel with the
	// model file's template, or chat.DefaultBuiltin).
	ChatTemplate *chat.Template
	// MaxBodyBytes bounds request bodies (default 8 MiB).
	MaxBodyBytes int64
	// ReadTimeout bounds reading a request body (default 30 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client (default 30 s): a client
	// that stops reading a stream for longer is dropped and its
	// generation cancelled.
	WriteTimeout time.Duration
	// ShutdownGrace is how long Serve lets running requests finish once
	// its context is done, before cancelling them (default 10 s).
	ShutdownGrace time.Duration
	// Logger receives one line per request and server events (default:
	// none).
	Logger *slog.Logger
	// AllowedHosts are the Host header names (without port) accepted when
	// no APIKey is set; "*" accepts any. By default only loopback names
	// (localhost, *.localhost, 127.0.0.0/8, ::1) are: a web page cannot
	// then reach the server through DNS rebinding. With an APIKey any
	// host is accepted.
	AllowedHosts []string
	// CORSOrigins are the browser origins (scheme://host[:port]) whose
	// pages may call the API: preflight OPTIONS requests are answered and
	// responses carry Access-Control-Allow-* headers for them; "*" allows
	// every origin. Pages served from http://localhost and
	// http://127.0.0.1 (any port) are always allowed, and with an APIKey
	// every origin is (the key guards the API).
	CORSOrigins []string
	// Pull, if set, fetches a model for ollama's /api/pull; the server
	// then serves it too (NewMulti only).
	Pull PullFunc
	// Defaults, if set, are the sampling options of requests that leave a
	// field unset (llama-server's --temp, --top-k, --top-p, --min-p,
	// --seed; default engine.DefaultSampleOptions and a random seed per
	// request). DefaultSeed says Defaults.Seed is meant (else random).
	Defaults    *engine.SampleOptions
	DefaultSeed bool
	// DefaultMaxTokens bounds requests that give no max_tokens (0: none;
	// llama-server's --n-predict).
	DefaultMaxTokens int
	// Slots enables GET /slots (llama-server's --slots); without it the
	// endpoint answers 501 as llama-server's does.
	Slots bool
}

// Server is the HTTP API; it is an http.Handler.
type Server struct {
	opts      Options
	models    *pool
	single    *backend // the model New was given (nil for NewMulti)
	handler   http.Handler
	metrics   *metrics
	created   int64
	log       *slog.Logger
	draining  atomic.Bool
	running   atomic.Int64  // requests being handled
	tokSem    chan struct{} // bounds the requests tokenizing at once
	tokenized atomic.Int64  // texts tokenized (tests: refused ones are not)
	// promptLimit bounds the bodies of generation requests: past it no
	// prompt they hold can fit the context (promptBodyLimit) of the one
	// model served; with several it is MaxBodyBytes.
	promptLimit int64
}

// promptBodyLimit is the largest generation request body that can hold a
// prompt fitting a context of ctx tokens: the prompt text is at most ctx ×
// the longest token's bytes, each byte at most 6 in JSON (\u00XX), plus
// 1 MiB for the other fields (and token-id prompts, at most ~11 bytes an
// id). WordPiece text has no such bound (0: no limit).
func promptBodyLimit(tok interface {
	MinTokensOf(int) int
	MaxTokenBytes() int
}, ctx int) int64 {
	if tok.MinTokensOf(1<<20) == 0 {
		return 0
	}
	return 6*int64(ctx)*int64(max(tok.MaxTokenBytes(), 2)) + 1<<20
}

// New returns the API server for e, the one model it serves.
func New(e *engine.Engine, opts Options) (*Server, error) {
	s := newServer(opts)
	b, err := s.newBackend(e, opts.ChatTemplate, s.opts.ModelName)
	if err != nil {
		return nil, err
	}
	s.single = b
	if b.promptLimit < s.promptLimit {
		s.promptLimit = b.promptLimit
	}
	s.models, _ = newPool(s, []Model{{Name: s.opts.ModelName, Load: func(context.Context) (*engine.Engine, *chat.Template, error) {
		return e, b.tpl, nil
	}, Size: int64(e.File().Size), Modified: time.Unix(s.created, 0), Path: opts.ModelPath}}, PoolOptions{})
	sl := s.models.slots[0]
	for _, a := range opts.ModelAliases {
		if _, ok := s.models.byName[a]; !ok {
			s.models.byName[a] = sl
		}
	}
	sl.b, sl.pinned = b, true
	sl.m.Details = detailsOf(e)
	for _, a := range e.Adapters() {
		sl.m.Adapters = append(sl.m.Adapters, strings.TrimSuffix(filepath.Base(a.Path), ".gguf"))
	}
	s.routes()
	return s, nil
}

// NewMulti returns an API server for several models, each loaded on its
// first request and unloaded as popts says. The request's "model" picks
// one; an unknown name gets 404 model_not_found. opts.ModelName and
// opts.ChatTemplate are not used (each Model loads its own template).
func NewMulti(models []Model, popts PoolOptions, opts Options) (*Server, error) {
	if len(models) == 0 {
		return nil, errors.New("server: no models to serve")
	}
	s := newServer(opts)
	p, err := newPool(s, models, popts)
	if err != nil {
		return nil, err
	}
	s.models = p
	s.routes()
	return s, nil
}

// Close unloads the models a multi-model server loaded (New's engine
// stays its caller's to close).
func (s *Server) Close() { s.models.close() }

func newServer(opts Options) *Server {
	if opts.ModelName == "" {
		opts.ModelName = "shimmer"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 8 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: opts, created: time.Now().Unix(), log: opts.Logger,
		tokSem: make(chan struct{}, max(2, runtime.NumCPU()))}
	s.promptLimit = opts.MaxBodyBytes
	s.metrics = newMetrics(func() engine.Stats { return s.models.stats() })
	return s
}

// newBackend readies a loaded engine for the handlers.
func (s *Server) newBackend(e *engine.Engine, tpl *chat.Template, name string) (*backend, error) {
	b := &backend{Server: s, e: e, tpl: tpl, name: name, promptLimit: s.opts.MaxBodyBytes, adapter: -1}
	if l := promptBodyLimit(e.Tokenizer(), e.Options().Context); l > 0 && l < b.promptLimit {
		b.promptLimit = l
	}
	if b.tpl == nil {
		tok := e.Tokenizer()
		t, err := chat.ForModel(e.File(), "", tokenText(tok.BOS(), tok), tokenText(tok.EOS(), tok))
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		b.tpl = t
	}
	return b, nil
}

// acquire finds the model a request names, loading it if need be; release
// ends the request's use of it.
func (s *Server) acquire(ctx context.Context, name string) (*backend, func(), *apiError) {
	return s.models.acquire(ctx, name, nil)
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	route := func(path, method, name string, h func(http.ResponseWriter, *http.Request)) {
		mux.Handle(path, s.wrap(name, method, h))
	}
	route("/v1/chat/completions", http.MethodPost, "chat", s.handleChat)
	route("/chat/completions", http.MethodPost, "chat", s.handleChat)
	route("/v1/chat/completions/input_tokens", http.MethodPost, "chat", s.handleChatTokens)
	route("/chat/completions/input_tokens", http.MethodPost, "chat", s.handleChatTokens)
	route("/v1/completions", http.MethodPost, "completions", s.handleCompletions)
	route("/completion", http.MethodPost, "completion", s.handleNative)
	route("/completions", http.MethodPost, "completion", s.handleNative)
	route("/infill", http.MethodPost, "completion", s.handleInfill)
	route("/props", "", "props", s.handleProps)
	route("/v1/messages", http.MethodPost, "messages", s.handleAnthropic)
	route("/v1/responses", http.MethodPost, "responses", s.handleResponses)
	route("/responses", http.MethodPost, "responses", s.handleResponses)
	route("/v1/messages/count_tokens", http.MethodPost, "messages", s.handleAnthropicCount)
	route("/apply-template", http.MethodPost, "apply-template", s.handleApplyTemplate)
	route("/v1/models", http.MethodGet, "models", s.handleModels)
	route("/models", http.MethodGet, "models", s.handleModels)
	route("/v1/models/{model...}", http.MethodGet, "models", s.handleModel)
	route("/health", http.MethodGet, "health", s.handleHealth)
	route("/v1/health", http.MethodGet, "health", s.handleHealth)
	route("/metrics", http.MethodGet, "metrics", s.metrics.serve)
	route("/v1/embeddings", http.MethodPost, "embeddings", s.handleEmbeddings)
	route("/embeddings", http.MethodPost, "embeddings", s.handleEmbeddings)
	for _, p := range []string{"/v1/rerank", "/rerank", "/v1/reranking", "/reranking"} {
		route(p, http.MethodPost, "rerank", s.handleRerank)
	}
	s.ollamaRoutes(route)
	if s.opts.NoUI {
		route("/{$}", http.MethodGet, "health", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "shimmer is running (OpenAI API at /v1, ollama's at /api); its web page is off (--no-webui)\n")
		})
	} else {
		route("/{$}", http.MethodGet, "ui", s.handleUI)
	}
	route("/lora-adapters", "", "lora-adapters", s.handleLoRAAdapters)
	route("/slots", http.MethodGet, "slots", s.handleSlots)
	route("/tokenize", http.MethodPost, "tokenize", s.handleTokenize)
	route("/detokenize", http.MethodPost, "detokenize", s.handleDetokenize)
	route("/", "", "other", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, Type: "invalid_request_error",
			Message: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	s.handler = mux
}

func tokenText(id int32, tok interface{ Text(int32) string }) string {
	if id < 0 {
		return ""
	}
	return tok.Text(id)
}

// ChatTemplate returns the template rendering chat messages of the model
// New was given (nil for NewMulti).
func (s *Server) ChatTemplate() *chat.Template {
	if s.single == nil {
		return nil
	}
	return s.single.tpl
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// statusWriter records the status of a response for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// clientGone marks a request whose client went away before the response.
const clientGone = 499

//go:embed ui/index.html
var uiPage []byte

// handleUI serves the chat page: a page of its own, with no script or
// style from elsewhere, that talks to /v1/chat/completions (the API key,
// when the server has one, is typed into it).
func (s *Server) handleUI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(uiPage)
}

// wrap adds to h: the Host check, authentication, then the method and
// Content-Type checks (so that no route can be mapped without a key), the
// body limit, panic recovery, per-write deadlines, logging and metrics.
func (s *Server) wrap(name, method string, h func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		rc := http.NewResponseController(w)
		// A deadline left by an earlier request on this connection must
		// not cut this one; the last one bounds the final flush.
		rc.SetWriteDeadline(time.Time{})
		s.metrics.inflight.Inc()
		s.running.Add(1)
		defer s.running.Add(-1)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if w.status == 0 {
					writeError(w, &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: "internal error"})
				}
			}
			rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
			s.metrics.inflight.Dec()
			status := w.status
			if status == 0 {
				status = clientGone
				if r.Context().Err() == nil {
					status = http.StatusOK
				}
			}
			s.metrics.observe(name, status, time.Since(start))
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", time.Since(start).Round(time.Microsecond))
		}()
		if !s.hostAllowed(r.Host) && name != "health" {
			writeError(w, &apiError{status: http.StatusForbidden, Type: "invalid_request_error", Code: strPtr("host_not_allowed"),
				Message: fmt.Sprintf("Host %q is not allowed: without an API key the server answers only loopback names (set --api-key or --allowed-hosts)", r.Host)})
			return
		}
		if s.cors(w, r, method) {
			return
		}
		// /health and the list of models need no key, as llama-server's.
		public := name == "health" || name == "ui" || (name == "models" && (r.URL.Path == "/v1/models" || r.URL.Path == "/models") && (r.Method == http.MethodGet || r.Method == http.MethodHead))
		if s.opts.APIKey != "" && !public && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shimmer"`)
			writeError(w, &apiError{status: http.StatusUnauthorized, Type: "authentication_error", Code: strPtr("invalid_api_key"),
				Message: "invalid or missing API key: send it as 'Authorization: Bearer KEY'"})
			return
		}
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
				Message: fmt.Sprintf("%s %s: method not allowed (use %s)", r.Method, r.URL.Path, method)})
			return
		}
		// A body of another type could come from a web page's form or
		// fetch without a CORS preflight.
		// ollama's clients (and its documented curl lines) send JSON
		// without the type; a browser's cross-site POST carries an Origin,
		// so /api/ takes any type from no origin or an allowed one.
		ollamaCall := strings.HasPrefix(r.URL.Path, "/api/") && (r.Header.Get("Origin") == "" || s.originAllowed(r.Header.Get("Origin")))
		if r.Method == http.MethodPost && !isJSON(r.Header.Get("Content-Type")) && !ollamaCall {
			writeError(w, &apiError{status: http.StatusUnsupportedMediaType, Type: "invalid_request_error",
				Message: fmt.Sprintf("the request body must be sent as Content-Type: application/json (got %q)", r.Header.Get("Content-Type"))})
			return
		}
		if s.draining.Load() && name != "health" && name != "metrics" {
			w.Header().Set("Connection", "close")
			writeError(w, generationError(engine.ErrClosed, ""))
			return
		}
		limit := s.opts.MaxBodyBytes
		if name == "chat" || name == "completions" {
			limit = s.promptLimit
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	// The scheme is case-insensitive (RFC 9110, 11.1).
	got := r.Header.Get("X-Api-Key")
	if scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		got = cred
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.APIKey)) == 1
}

// readJSON decodes the request body within the read timeout.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, v any) *apiError {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(s.opts.ReadTimeout))
	// The connection is then only read to notice a client that goes away,
	// which must not time out.
	defer rc.SetReadDeadline(time.Time{})
	if e := decodeJSON(r.Body, v); e != nil {
		return s.bodyLimitError(e)
	}
	// Read to the end, so that the server starts watching the connection
	// for a client that goes away.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.bodyLimitError(tooLarge(mbe.Limit))
		}
		return invalid("", "reading the request body: %v", err)
	}
	return nil
}

// writeJSON writes a 200 response within the write timeout.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Serve accepts connections on ln until ctx is done, then shuts down
// gracefully: for Options.ShutdownGrace it keeps the listener open,
// answering /health with 503 and new requests with the shutting_down 503,
// while running and queued requests finish; then it cancels those left
// (streams end with a shutting_down error event, the others get the 503),
// closes the listener and returns nil. It does not close the engine.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	// Draining: the listener stays open so that /health answers 503 to
	// load balancers; new generation requests get the shutting_down 503
	// (wrap); running and queued ones have the grace period to finish.
	s.draining.Store(true)
	hs.SetKeepAlivesEnabled(false)
	s.log.Info("shutting down", "grace", s.opts.ShutdownGrace)
	for end := time.Now().Add(s.opts.ShutdownGrace); s.running.Load() > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if s.running.Load() > 0 {
		s.log.Info("cancelling the requests still running")
		// Handlers see errShuttingDown as the cause: queued requests get
		// the 503, streams a final error event, within a decode step.
		cancel(errShuttingDown)
		for end := time.Now().Add(5 * time.Second); s.running.Load() > 0 && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	closing, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	if err := hs.Shutdown(closing); err != nil {
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// bodyLimitError turns the 413 of a generation request cut at promptLimit
// into the 400 of a prompt that cannot fit the context.
func (s *Server) bodyLimitError(e *apiError) *apiError {
	if e.status != http.StatusRequestEntityTooLarge || e.limit != s.promptLimit || s.promptLimit >= s.opts.MaxBodyBytes || s.single == nil {
		return e
	}
	return &apiError{status: http.StatusBadRequest, Type: "exceed_context_size_error", Code: strPtr("context_length_exceeded"), NCtx: s.single.e.Options().Context,
		Message: fmt.Sprintf("the request body exceeds %d bytes, more than any prompt that fits the context of %d tokens can take: the request exceeds the available context size, shorten it", s.promptLimit, s.single.e.Options().Context)}
}

// isJSON reports whether a Content-Type is application/json (parameters
// such as charset allowed).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// hostAllowed checks a request's Host header against Options.AllowedHosts
// (loopback names by default); any host passes when an API key is set.
func (s *Server) hostAllowed(hostport string) bool {
	if s.opts.APIKey != "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if len(s.opts.AllowedHosts) > 0 {
		for _, a := range s.opts.AllowedHosts {
			if a == "*" || strings.EqualFold(strings.Trim(a, "[]"), host) {
				return true
			}
		}
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// originAllowed reports whether a page from origin may call the API:
// with an API key any page may (the key guards the API, as OpenAI's and
// llama-server's); without one, a --cors origin or a localhost page.
func (s *Server) originAllowed(origin string) bool {
	if s.opts.APIKey != "" {
		return true
	}
	for _, o := range s.opts.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.Path != "" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// cors adds the CORS headers for an allowed Origin and answers preflight
// (and other OPTIONS) requests itself, reporting whether it did.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, method string) bool {
	origin := r.Header.Get("Origin")
	allowed := origin != "" && s.originAllowed(origin)
	h := w.Header()
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
	}
	if r.Method != http.MethodOptions || method == "" {
		return false
	}
	allow := method + ", OPTIONS"
	if method == http.MethodGet {
		allow = "GET, HEAD, OPTIONS"
	}
	h.Set("Allow", allow)
	if allowed && r.Header.Get("Access-Control-Request-Method") != "" {
		// Every route is GET or POST, as llama-server says; the headers
		// asked for are named (a "*" would not cover Authorization).
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		hdrs := r.Header.Get("Access-Control-Request-Headers")
		if hdrs == "" {
			hdrs = "Authorization, Content-Type"
		}
		h.Set("Access-Control-Allow-Headers", hdrs)
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusOK)
	return true
}
