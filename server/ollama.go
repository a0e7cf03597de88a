package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/gguf"
	smodel "github.com/shimmer-llm/shimmer/model"
	"github.com/shimmer-llm/shimmer/quantize"
)

// ollama's API (docs/api.md of ollama): a translation onto the same
// generation as the OpenAI endpoints. Field names and shapes follow
// ollama's exactly; what is not supported is listed in docs/server.md.

// OllamaVersion is the ollama version /api/version reports: clients check
// it for features (tools, structured outputs).
const OllamaVersion = "0.9.0"

// PullFunc fetches a model for ollama's /api/pull and returns it to serve,
// reporting progress (status, bytes done and total of the file named).
type PullFunc func(ctx context.Context, name string, progress func(status, file string, done, total int64)) (Model, error)

func (s *Server) ollamaRoutes(route func(path, method, name string, h func(http.ResponseWriter, *http.Request))) {
	route("/api/version", http.MethodGet, "ollama", func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, map[string]string{"version": OllamaVersion})
	})
	route("/api/tags", http.MethodGet, "ollama", s.handleOllamaTags)
	route("/api/ps", http.MethodGet, "ollama", s.handleOllamaPS)
	route("/api/show", http.MethodPost, "ollama", s.handleOllamaShow)
	route("/api/pull", http.MethodPost, "ollama", s.handleOllamaPull)
	route("/api/generate", http.MethodPost, "chat", s.handleOllamaGenerate)
	route("/api/chat", http.MethodPost, "chat", s.handleOllamaChat)
	route("/api/embed", http.MethodPost, "embeddings", s.handleOllamaEmbed)
	route("/api/embeddings", http.MethodPost, "embeddings", s.handleOllamaEmbeddings)
}

// ollamaError writes an error as ollama does: {"error": "message"}.
func ollamaError(w http.ResponseWriter, e *apiError) {
	if e.status == clientGone {
		return
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"error": e.Message})
}

// DescribeModel returns ollama's details of a model: its family
// (architecture), parameter size and quantization.
func DescribeModel(arch string, params uint64, quant string) ModelDetails {
	d := ModelDetails{Format: "gguf", Family: arch, QuantizationLevel: quant}
	switch {
	case params >= 1e9:
		d.ParameterSize = fmt.Sprintf("%.1fB", float64(params)/1e9)
	case params >= 1e6:
		d.ParameterSize = fmt.Sprintf("%.1fM", float64(params)/1e6)
	case params > 0:
		d.ParameterSize = fmt.Sprintf("%.1fK", float64(params)/1e3)
	}
	return d
}

// detailsOf describes a loaded model's file.
func detailsOf(e *engine.Engine) ModelDetails {
	f := e.File()
	arch, _ := f.GetString("general.architecture", "")
	var params uint64
	for _, t := range f.Tensors {
		params += t.Elements()
	}
	quant := ""
	if ft, err := f.GetInt("general.file_type", -1); err == nil && ft >= 0 {
		quant = quantize.FileType(ft).String()
	}
	return DescribeModel(arch, params, quant)
}

// ollamaDetails are a model's details in ollama's shape.
type ollamaDetails struct {
	ParentModel string   `json:"parent_model"`
	Families    []string `json:"families"`
	ModelDetails
}

func (d ModelDetails) ollama() ollamaDetails {
	o := ollamaDetails{ModelDetails: d}
	if d.Family != "" {
		o.Families = []string{d.Family}
	}
	return o
}

// digestOf stands in for an ollama manifest digest: stable for a model's
// name, size and time.
func digestOf(m Model) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%d", m.Name, m.Size, m.Modified.UnixNano())))
	return hex.EncodeToString(h[:])
}

func ollamaTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// handleOllamaTags serves GET /api/tags: every model served.
func (s *Server) handleOllamaTags(w http.ResponseWriter, r *http.Request) {
	models := []map[string]any{}
	for _, ms := range s.models.list() {
		models = append(models, map[string]any{"name": ms.m.Name, "model": ms.m.Name, "modified_at": ollamaTime(s.modified(ms.m)),
			"size": ms.m.Size, "digest": digestOf(ms.m), "details": ms.m.Details.ollama()})
	}
	s.writeJSON(w, map[string]any{"models": models})
}

// handleOllamaPS serves GET /api/ps: the models loaded.
func (s *Server) handleOllamaPS(w http.ResponseWriter, r *http.Request) {
	models := []map[string]any{}
	for _, ms := range s.models.list() {
		if !ms.loaded {
			continue
		}
		until := ms.until
		if until.IsZero() {
			until = time.Now().Add(100 * 365 * 24 * time.Hour) // in use, or kept for ever
		}
		models = append(models, map[string]any{"name": ms.m.Name, "model": ms.m.Name, "size": ms.m.Size + ms.kvBytes,
			"digest": digestOf(ms.m), "details": ms.m.Details.ollama(), "expires_at": ollamaTime(until), "size_vram": 0,
			"context_length": ms.context})
	}
	s.writeJSON(w, map[string]any{"models": models})
}

// handleOllamaShow serves POST /api/show {"model"} (or "name").
func (s *Server) handleOllamaShow(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model   string `json:"model"`
		Name    string `json:"name"`
		Verbose bool   `json:"verbose"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	if req.Model == "" {
		req.Model = req.Name
	}
	if req.Model == "" {
		ollamaError(w, invalid("model", "model is required"))
		return
	}
	s.models.mu.Lock()
	sl, e := s.models.find(req.Model)
	var b *backend
	if sl != nil {
		b = sl.b
	}
	s.models.mu.Unlock()
	if e != nil {
		e.Message = fmt.Sprintf("model '%s' not found", req.Model)
		ollamaError(w, e)
		return
	}
	var f *gguf.File
	if b != nil {
		f = b.e.File()
	} else if sl.m.Path != "" {
		of, err := gguf.Open(sl.m.Path)
		if err != nil {
			ollamaError(w, &apiError{status: http.StatusInternalServerError, Message: err.Error()})
			return
		}
		defer of.Close()
		f = of
	}
	info := map[string]any{}
	caps := []string{"completion"}
	tplSrc := ""
	if f != nil {
		for _, kv := range f.KV {
			v := kv.Value.Any()
			switch v.(type) {
			case string, bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64:
				info[kv.Key] = v
			default:
				if req.Verbose {
					info[kv.Key] = v
				} else {
					info[kv.Key] = nil // arrays (the vocabulary) only with verbose, as ollama
				}
			}
		}
		var n uint64
		for _, t := range f.Tensors {
			n += t.Elements()
		}
		info["general.parameter_count"] = n
		tplSrc, _ = f.GetString("tokenizer.chat_template", "")
		if arch, _ := f.GetString("general.architecture", ""); arch != "" {
			if _, ok := f.Get(arch + ".pooling_type"); ok {
				caps = []string{"embedding"}
			}
		}
	}
	if b != nil {
		tplSrc = b.tpl.Source()
	}
	if strings.Contains(tplSrc, "tools") && caps[0] != "embedding" {
		caps = append(caps, "tools")
	}
	from := sl.m.Path
	if from == "" {
		from = sl.m.Name
	}
	s.writeJSON(w, map[string]any{
		"modelfile":    "# Modelfile of " + sl.m.Name + " (shimmer)\nFROM " + from + "\n",
		"parameters":   "",
		"template":     tplSrc,
		"details":      sl.m.Details.ollama(),
		"model_info":   info,
		"capabilities": caps,
		"modified_at":  ollamaTime(s.modified(sl.m)),
	})
}

// startNDJSON starts ollama's streamed response: one JSON object a line.
func (s *Server) startNDJSON(w http.ResponseWriter) *sse { return s.startResponse(w, true) }

// handleOllamaPull serves POST /api/pull {"model", "stream"}: progress as
// ollama streams it (pulling…, verifying sha256 digest, success).
func (s *Server) handleOllamaPull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Name   string `json:"name"`
		Stream *bool  `json:"stream"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	if req.Model == "" {
		req.Model = req.Name
	}
	if s.opts.Pull == nil {
		ollamaError(w, &apiError{status: http.StatusNotImplemented, Message: "this server serves the one model it was started with (-m); start shimmer serve without -m to pull and serve models"})
		return
	}
	stream := req.Stream == nil || *req.Stream
	var out *sse
	send := func(v map[string]any) {
		if out != nil {
			out.send(v)
		}
	}
	if stream {
		out = s.startNDJSON(w)
		send(map[string]any{"status": "pulling manifest"})
	}
	m, err := s.opts.Pull(r.Context(), req.Model, func(status, file string, done, total int64) {
		switch status {
		case "verifying":
			send(map[string]any{"status": "verifying sha256 digest"})
		default:
			send(map[string]any{"status": "pulling " + file, "digest": file, "total": total, "completed": done})
		}
	})
	if err == nil {
		err = s.models.add(m)
	}
	if err != nil {
		if out != nil {
			send(map[string]any{"error": strings.TrimPrefix(err.Error(), "store: ")})
			return
		}
		ollamaError(w, &apiError{status: http.StatusInternalServerError, Message: strings.TrimPrefix(err.Error(), "store: ")})
		return
	}
	if out != nil {
		send(map[string]any{"status": "writing manifest"})
		send(map[string]any{"status": "success"})
		return
	}
	s.writeJSON(w, map[string]any{"status": "success"})
}

// ollamaOptions maps ollama's options onto the shared sampling fields,
// with ollama's defaults for the ones not given (temperature 0.8, top_k
// 40, top_p 0.9, repeat_penalty 1.1, repeat_last_n 64). Options shimmer
// does not use (num_ctx, num_thread, mirostat, …) are ignored, as ollama
// ignores the ones a runner lacks.
func ollamaOptions(raw map[string]json.RawMessage, format json.RawMessage) (sampling, *apiError) {
	f := func(v float64) *float64 { return &v }
	n := func(v int) *int { return &v }
	p := sampling{Temperature: f(0.8), TopK: n(40), TopP: f(0.9), RepeatPenalty: f(1.1), RepeatLastN: n(64)}
	set := func(key string, dst any) *apiError {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return invalid("options."+key, "options.%s: %v", key, err)
		}
		return nil
	}
	var numPredict *int
	for key, dst := range map[string]any{
		"temperature": &p.Temperature, "top_k": &p.TopK, "top_p": &p.TopP, "min_p": &p.MinP,
		"repeat_penalty": &p.RepeatPenalty, "repeat_last_n": &p.RepeatLastN, "presence_penalty": &p.PresencePenalty,
		"frequency_penalty": &p.FrequencyPenalty, "seed": &p.Seed, "stop": &p.Stop, "num_predict": &numPredict,
	} {
		if e := set(key, dst); e != nil {
			return p, e
		}
	}
	if numPredict != nil && *numPredict > 0 {
		p.MaxTokens = numPredict
	}
	if p.RepeatLastN != nil && *p.RepeatLastN < 0 {
		p.RepeatLastN = nil // -1: the whole context, as shimmer's default window
	}
	switch fs := strings.TrimSpace(string(format)); {
	case fs == "" || fs == "null" || fs == `""`:
	case fs == `"json"`:
		p.ResponseFormat = &responseFormat{Type: "json_object"}
	case strings.HasPrefix(fs, "{"):
		p.ResponseFormat = &responseFormat{Type: "json_schema", Schema: format}
	default:
		return p, invalid("format", "format must be \"json\" or a JSON schema object")
	}
	return p, nil
}

// keepAlive parses ollama's keep_alive: a duration string ("5m", "-1"), or
// a number of seconds; negative keeps the model loaded.
func keepAlive(raw json.RawMessage) (*time.Duration, *apiError) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	var d time.Duration
	var num float64
	var str string
	switch {
	case json.Unmarshal(raw, &num) == nil:
		d = time.Duration(num * float64(time.Second))
	case json.Unmarshal(raw, &str) == nil:
		if v, err := strconv.ParseFloat(str, 64); err == nil {
			d = time.Duration(v * float64(time.Second))
		} else if d, err = time.ParseDuration(str); err != nil {
			return nil, invalid("keep_alive", "keep_alive %q is not a duration (e.g. \"5m\", \"-1\", 0)", str)
		}
	default:
		return nil, invalid("keep_alive", "keep_alive must be a duration string or a number of seconds")
	}
	if d < 0 {
		d = -1
	}
	return &d, nil
}

// ollamaDone is the final object of a generation: done_reason and timings
// in nanoseconds.
func ollamaDone(v map[string]any, res engine.Result, start time.Time, load time.Duration) map[string]any {
	reason := "stop"
	switch res.StopReason {
	case engine.StopLength, engine.StopContext:
		reason = "length"
	}
	v["done"] = true
	v["done_reason"] = reason
	v["total_duration"] = time.Since(start).Nanoseconds()
	v["load_duration"] = load.Nanoseconds()
	v["prompt_eval_count"] = res.PromptTokens
	v["prompt_eval_duration"] = res.PromptTime.Nanoseconds()
	v["eval_count"] = res.Tokens
	v["eval_duration"] = res.GenTime.Nanoseconds()
	return v
}

// ollamaAcquire loads the model of an ollama request, with its keep_alive.
func (s *Server) ollamaAcquire(w http.ResponseWriter, r *http.Request, name string, keep json.RawMessage) (*backend, func(), time.Duration, bool) {
	k, e := keepAlive(keep)
	if e != nil {
		ollamaError(w, e)
		return nil, nil, 0, false
	}
	if name == "" {
		ollamaError(w, invalid("model", "model is required"))
		return nil, nil, 0, false
	}
	start := time.Now()
	b, release, e := s.models.acquire(r.Context(), name, k)
	if e != nil {
		if e.Code != nil && *e.Code == "model_not_found" {
			e.Message = fmt.Sprintf("model '%s' not found", name)
		}
		ollamaError(w, e)
		return nil, nil, 0, false
	}
	return b, release, time.Since(start), true
}

type ollamaGenerateRequest struct {
	Model     string                     `json:"model"`
	Prompt    string                     `json:"prompt"`
	Suffix    string                     `json:"suffix"`
	System    string                     `json:"system"`
	Template  string                     `json:"template"`
	Raw       bool                       `json:"raw"`
	Stream    *bool                      `json:"stream"`
	Format    json.RawMessage            `json:"format"`
	Options   map[string]json.RawMessage `json:"options"`
	KeepAlive json.RawMessage            `json:"keep_alive"`
	Images    []string                   `json:"images"`
	Context   []int32                    `json:"context"`
}

// handleOllamaGenerate serves POST /api/generate.
func (s *Server) handleOllamaGenerate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req ollamaGenerateRequest
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	b, release, load, ok := s.ollamaAcquire(w, r, req.Model, req.KeepAlive)
	if !ok {
		return
	}
	defer release()
	created := ollamaTime(time.Now().UTC())
	if req.Prompt == "" && len(req.Context) == 0 {
		// An empty prompt loads the model (or, with keep_alive 0, unloads it).
		reason := "load"
		if k, _ := keepAlive(req.KeepAlive); k != nil && *k == 0 {
			reason = "unload"
		}
		b.writeJSON(w, map[string]any{"model": b.name, "created_at": created, "response": "", "done": true, "done_reason": reason})
		return
	}
	switch {
	case len(req.Images) > 0:
		ollamaError(w, invalid("images", "images are not supported: shimmer runs text models"))
		return
	case req.Suffix != "":
		ollamaError(w, invalid("suffix", "suffix is not supported"))
		return
	case req.Template != "":
		ollamaError(w, invalid("template", "a per-request template is not supported (start the server with --chat-template-file)"))
		return
	}
	p, e := ollamaOptions(req.Options, req.Format)
	if e != nil {
		ollamaError(w, e)
		return
	}
	opts, e := b.generateOptions(&p)
	if e != nil {
		ollamaError(w, e)
		return
	}
	var prompt []int32
	switch {
	case req.Raw && req.Prompt == "":
		// The context alone is the prompt.
	case req.Raw:
		prompt, e = b.encode(r.Context(), req.Prompt, "prompt")
	default:
		var msgs []chat.Message
		if req.System != "" {
			msgs = append(msgs, chat.Message{Role: "system", Content: req.System})
		}
		prompt, e = b.chatPrompt(r.Context(), append(msgs, chat.Message{Role: "user", Content: req.Prompt}), nil)
	}
	if e != nil {
		ollamaError(w, e)
		return
	}
	if len(req.Context) > 0 {
		if e := b.validateIDs(req.Context, "context"); e != nil {
			ollamaError(w, e)
			return
		}
		prompt = append(append([]int32(nil), req.Context...), prompt...)
	}
	head := func(text string) map[string]any {
		return map[string]any{"model": b.name, "created_at": ollamaTime(time.Now().UTC()), "response": text, "done": false}
	}
	if req.Stream != nil && !*req.Stream {
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.ollamaFail(w, r.Context(), err)
			return
		}
		v := ollamaDone(head(joinText(toks)), res, start, load)
		v["context"] = contextOf(prompt, toks)
		b.writeJSON(w, v)
		return
	}
	var all []engine.Token
	b.runStreamAs(w, r, prompt, opts, "prompt", true,
		func(*sse) error { return nil },
		func(out *sse, toks []engine.Token) error {
			all = append(all, toks...)
			if text := joinText(toks); text != "" {
				return out.send(head(text))
			}
			return nil
		},
		func(out *sse, res engine.Result) error {
			v := ollamaDone(head(""), res, start, load)
			v["context"] = contextOf(prompt, all)
			return out.send(v)
		})
}

// contextOf is the context ollama returns: the prompt and the reply.
func contextOf(prompt []int32, toks []engine.Token) []int32 {
	out := append([]int32{}, prompt...)
	for _, t := range toks {
		if t.ID >= 0 {
			out = append(out, t.ID)
		}
	}
	return out
}

// ollamaFail answers a generation that failed before streaming began.
func (b *backend) ollamaFail(w http.ResponseWriter, ctx context.Context, err error) {
	if ctx.Err() != nil && !shuttingDown(ctx) {
		return
	}
	e := generationError(err, "prompt")
	if shuttingDown(ctx) {
		e = generationError(engine.ErrClosed, "prompt")
	}
	ollamaError(w, e)
}

type ollamaMessage struct {
	Role      string           `json:"role"`
	Content   string           `json:"content"`
	Thinking  string           `json:"thinking,omitempty"`
	Images    []string         `json:"images,omitempty"`
	ToolCalls []ollamaToolCall `json:"tool_calls,omitempty"`
	ToolName  string           `json:"tool_name,omitempty"`
}

type ollamaToolCall struct {
	Function struct {
		Index     *int            `json:"index,omitempty"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"function"`
}

// handleOllamaChat serves POST /api/chat.
func (s *Server) handleOllamaChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req struct {
		Model     string                     `json:"model"`
		Messages  []ollamaMessage            `json:"messages"`
		Tools     json.RawMessage            `json:"tools"`
		Stream    *bool                      `json:"stream"`
		Format    json.RawMessage            `json:"format"`
		Options   map[string]json.RawMessage `json:"options"`
		KeepAlive json.RawMessage            `json:"keep_alive"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	b, release, load, ok := s.ollamaAcquire(w, r, req.Model, req.KeepAlive)
	if !ok {
		return
	}
	defer release()
	if len(req.Messages) == 0 {
		b.writeJSON(w, map[string]any{"model": b.name, "created_at": ollamaTime(time.Now().UTC()),
			"message": ollamaMessage{Role: "assistant"}, "done": true, "done_reason": "load"})
		return
	}
	p, e := ollamaOptions(req.Options, req.Format)
	if e != nil {
		ollamaError(w, e)
		return
	}
	// The OpenAI request it translates to: the same options, tools and checks.
	creq := chatRequest{sampling: p, Tools: req.Tools}
	for i, m := range req.Messages {
		if len(m.Images) > 0 {
			ollamaError(w, invalid(fmt.Sprintf("messages[%d].images", i), "images are not supported: shimmer runs text models"))
			return
		}
		content, _ := json.Marshal(m.Content)
		cm := chatMessage{Role: m.Role, Content: content, Thinking: m.Thinking, Name: m.ToolName}
		for _, c := range m.ToolCalls {
			var tc toolCallOut
			tc.Type, tc.Function.Name = "function", c.Function.Name
			tc.Function.Arguments = string(c.Function.Arguments)
			cm.ToolCalls = append(cm.ToolCalls, tc)
		}
		creq.Messages = append(creq.Messages, cm)
	}
	opts, e := b.chatOptions(&creq)
	if e != nil {
		ollamaError(w, e)
		return
	}
	msgs, e := chatMessages(creq.Messages)
	if e != nil {
		ollamaError(w, e)
		return
	}
	tools, e := b.toolSetup(&creq, &opts)
	if e != nil {
		ollamaError(w, e)
		return
	}
	var vars map[string]any
	if tools != nil {
		vars, msgs = b.withTools(tools, vars, msgs)
	}
	prompt, e := b.chatPrompt(r.Context(), msgs, vars)
	if e != nil {
		ollamaError(w, e)
		return
	}
	harmony := chat.IsHarmony(b.tpl.Source())
	head := func(m ollamaMessage) map[string]any {
		m.Role = "assistant"
		return map[string]any{"model": b.name, "created_at": ollamaTime(time.Now().UTC()), "message": m, "done": false}
	}
	// finish splits a whole reply into thinking, content and tool calls.
	finish := func(text string) ollamaMessage {
		var m ollamaMessage
		var calls []chat.ToolCall
		m.Thinking, m.Content, calls = b.splitReply(text, tools)
		m.ToolCalls = ollamaCalls(calls)
		return m
	}
	if req.Stream != nil && !*req.Stream || tools != nil || harmony {
		// Tool calls and harmony channels are read from the whole reply;
		// streamed, the reply comes as one message before the final one.
		toks, res, err := b.collect(r.Context(), prompt, opts)
		if err != nil {
			b.ollamaFail(w, r.Context(), err)
			return
		}
		m := finish(joinText(toks))
		if req.Stream != nil && !*req.Stream {
			b.writeJSON(w, ollamaDone(head(m), res, start, load))
			return
		}
		out := b.startNDJSON(w)
		if out.send(head(m)) == nil {
			out.send(ollamaDone(head(ollamaMessage{}), res, start, load))
		}
		return
	}
	b.runStreamAs(w, r, prompt, opts, "messages", true,
		func(*sse) error { return nil },
		func(out *sse, toks []engine.Token) error {
			if text := joinText(toks); text != "" {
				return out.send(head(ollamaMessage{Content: text}))
			}
			return nil
		},
		func(out *sse, res engine.Result) error {
			return out.send(ollamaDone(head(ollamaMessage{}), res, start, load))
		})
}

// ollamaCalls are tool calls in ollama's shape: arguments as an object.
func ollamaCalls(calls []chat.ToolCall) []ollamaToolCall {
	var out []ollamaToolCall
	for i, c := range calls {
		var oc ollamaToolCall
		idx := i
		oc.Function.Index, oc.Function.Name = &idx, c.Name
		oc.Function.Arguments = json.RawMessage(c.Arguments)
		if !json.Valid(oc.Function.Arguments) {
			oc.Function.Arguments = json.RawMessage("{}")
		}
		out = append(out, oc)
	}
	return out
}

// handleOllamaEmbed serves POST /api/embed {"model", "input": string or
// [strings], "truncate", "dimensions"} → {"model", "embeddings": [[…]]}.
func (s *Server) handleOllamaEmbed(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req struct {
		Model      string          `json:"model"`
		Input      json.RawMessage `json:"input"`
		Truncate   *bool           `json:"truncate"`
		Dimensions int             `json:"dimensions"`
		KeepAlive  json.RawMessage `json:"keep_alive"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	var texts []string
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		texts = []string{one}
	} else if err := json.Unmarshal(req.Input, &texts); err != nil || len(texts) == 0 {
		ollamaError(w, invalid("input", "input must be a string or a non-empty list of strings"))
		return
	}
	b, release, load, ok := s.ollamaAcquire(w, r, req.Model, req.KeepAlive)
	if !ok {
		return
	}
	defer release()
	vecs, seqs, e := b.ollamaEmbed(r.Context(), texts, req.Truncate == nil || *req.Truncate, req.Dimensions)
	if e != nil {
		ollamaError(w, e)
		return
	}
	n := 0
	for _, sq := range seqs {
		n += len(sq)
	}
	b.writeJSON(w, map[string]any{"model": b.name, "embeddings": vecs, "total_duration": time.Since(start).Nanoseconds(),
		"load_duration": load.Nanoseconds(), "prompt_eval_count": n})
}

// ollamaEmbed embeds texts for ollama's endpoints, which have no pooling
// override: the model must be an embedding model.
func (b *backend) ollamaEmbed(ctx context.Context, texts []string, truncate bool, dims int) ([][]float32, [][]int32, *apiError) {
	if !b.e.IsEmbedding() || b.e.Pooling() == smodel.PoolNone {
		return nil, nil, invalid("model", "model %s is not an embedding model (it declares no pooling, or pools with none)", b.name)
	}
	return b.embed(ctx, nil, texts, truncate, dims)
}

// handleOllamaEmbeddings serves the older POST /api/embeddings {"model",
// "prompt"} → {"embedding": […]}.
func (s *Server) handleOllamaEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model     string          `json:"model"`
		Prompt    string          `json:"prompt"`
		KeepAlive json.RawMessage `json:"keep_alive"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		ollamaError(w, e)
		return
	}
	b, release, _, ok := s.ollamaAcquire(w, r, req.Model, req.KeepAlive)
	if !ok {
		return
	}
	defer release()
	if req.Prompt == "" {
		b.writeJSON(w, map[string]any{"embedding": []float32{}})
		return
	}
	vecs, _, e := b.ollamaEmbed(r.Context(), []string{req.Prompt}, true, 0)
	if e != nil {
		ollamaError(w, e)
		return
	}
	b.writeJSON(w, map[string]any{"embedding": vecs[0]})
}
