package server

import (
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Loaded says whether the model is in memory now (shimmer's
	// extension: a multi-model server loads models on demand).
	Loaded bool `json:"loaded"`
	// Aliases and Tags are llama-server's (--alias a,b,c and --tags).
	Aliases []string `json:"aliases,omitempty"`
	Tags    []string `json:"tags,omitempty"`
}

func (s *Server) model(ms modelState) modelInfo {
	mi := modelInfo{ID: ms.m.Name, Object: "model", Created: s.modified(ms.m).Unix(), OwnedBy: "shimmer", Loaded: ms.loaded}
	if s.single != nil {
		mi.Aliases, mi.Tags = s.opts.ModelAliases, s.opts.ModelTags
	}
	return mi
}

// modified is a model's file time, or the server's start for a model
// without one.
func (s *Server) modified(m Model) time.Time {
	if m.Modified.IsZero() {
		return time.Unix(s.created, 0)
	}
	return m.Modified
}

// handleModels serves GET /v1/models: every model served, loaded or not.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list := s.models.list()
	data := make([]modelInfo, 0, len(list))
	for _, ms := range list {
		data = append(data, s.model(ms))
		// The adapters found beside a model, as MODEL+ADAPTER.
		for _, a := range ms.m.Adapters {
			mi := s.model(ms)
			mi.ID = ms.m.Name + "+" + a
			data = append(data, mi)
		}
	}
	s.writeJSON(w, map[string]any{"object": "list", "data": data})
}

// handleModel serves GET /v1/models/{model}.
func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	for _, ms := range s.models.list() {
		if name != "" && (ms.m.Name == name || ms.m.Name == trimGGUF(name)) {
			s.writeJSON(w, s.model(ms))
			return
		}
	}
	writeError(w, s.modelNotFound(name))
}

// modelNotFound refuses a request that names a model this server does not
// serve (OpenAI's 404 model_not_found), so that a router or a client that
// reached the wrong server can tell.
func (s *Server) modelNotFound(name string) *apiError {
	msg := "the model '" + name + "' does not exist; this server serves '" + s.opts.ModelName + "'"
	if s.single == nil {
		msg = fmt.Sprintf("the model '%s' does not exist; GET /v1/models lists the %d models this server serves", name, len(s.models.slots))
	}
	return &apiError{status: http.StatusNotFound, Type: "invalid_request_error", Param: strPtr("model"), Code: strPtr("model_not_found"), Message: msg}
}

// handleHealth serves GET /health: 200 while serving, 503 once shutting
// down, with the sequences in use (of the models loaded).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st := s.models.stats()
	body := map[string]any{"status": "ok", "slots_idle": st.Sequences - st.Active, "slots_processing": st.Active, "queued": st.Queued}
	if s.draining.Load() {
		body["status"] = "shutting down"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	s.writeJSON(w, body)
}

type tokenizeRequest struct {
	Content      *string `json:"content"`
	AddSpecial   bool    `json:"add_special"`
	ParseSpecial *bool   `json:"parse_special"`
	WithPieces   bool    `json:"with_pieces"`
	Model        string  `json:"model"` // which model's tokenizer (several served)
}

type tokenPiece struct {
	ID    int32 `json:"id"`
	Piece any   `json:"piece"` // a string, or the bytes when not valid UTF-8
}

// handleTokenize serves POST /tokenize as llama-server does:
// {"content", "add_special" (false), "parse_special" (true), "with_pieces"}
// → {"tokens": [ids]} or [{"id", "piece"}].
func (s *Server) handleTokenize(w http.ResponseWriter, r *http.Request) {
	var req tokenizeRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Content == nil {
		writeError(w, invalid("content", "'content' is missing"))
		return
	}
	parse := req.ParseSpecial == nil || *req.ParseSpecial
	b, done, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer done()
	tok := b.e.Tokenizer()
	release, e := s.tokenizeSlot(r.Context())
	if e != nil {
		return
	}
	ids := tok.Encode(*req.Content, req.AddSpecial, parse)
	release()
	if !req.WithPieces {
		if ids == nil {
			ids = []int32{}
		}
		s.writeJSON(w, map[string]any{"tokens": ids})
		return
	}
	pieces := make([]tokenPiece, len(ids))
	for i, id := range ids {
		p := tok.Piece(id, true)
		pieces[i] = tokenPiece{ID: id, Piece: p}
		if !utf8.ValidString(p) {
			pieces[i].Piece = byteList(p)
		}
	}
	s.writeJSON(w, map[string]any{"tokens": pieces})
}

// handleDetokenize serves POST /detokenize: {"tokens": [ids]} →
// {"content": text} (special tokens as their text).
func (s *Server) handleDetokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Tokens []int32 `json:"tokens"`
		Model  string  `json:"model"`
	}
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	if e := b.validateIDs(req.Tokens, "tokens"); e != nil {
		writeError(w, e)
		return
	}
	s.writeJSON(w, map[string]any{"content": b.e.Tokenizer().Decode(req.Tokens, true)})
}

// handleSlots serves GET /slots as llama-server's slot monitor: one entry
// per sequence of the model (?model= picks it when several are served).
// Without Options.Slots it answers 501, as llama-server without --slots.
func (s *Server) handleSlots(w http.ResponseWriter, r *http.Request) {
	if !s.opts.Slots {
		writeError(w, &apiError{status: http.StatusNotImplemented, Type: "not_supported_error",
			Message: "This server does not support slots endpoint. Start it with `--slots`"})
		return
	}
	b, release, e := s.acquire(r.Context(), r.URL.Query().Get("model"))
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	ctx := b.e.Options().Context
	var out []map[string]any
	for _, sl := range b.e.Slots() {
		out = append(out, map[string]any{"id": sl.ID, "id_task": -1, "n_ctx": ctx, "speculative": false,
			"is_processing": sl.Processing, "n_past": sl.Tokens, "n_cached": sl.CachedTokens})
	}
	s.writeJSON(w, out)
}
