package server

import (
	"net/http"
	"unicode/utf8"
)

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) model() modelInfo {
	return modelInfo{ID: s.opts.ModelName, Object: "model", Created: s.created, OwnedBy: "shimmer"}
}

// handleModels serves GET /v1/models: the one model served.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, map[string]any{"object": "list", "data": []modelInfo{s.model()}})
}

// handleModel serves GET /v1/models/{model}.
func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	if name := r.PathValue("model"); name == "" || s.checkModel(name) != nil {
		writeError(w, s.modelNotFound(name))
		return
	}
	s.writeJSON(w, s.model())
}

// checkModel refuses a request that names a model this server does not
// serve (OpenAI's 404 model_not_found), so that a router or a client that
// reached the wrong server can tell; a request naming no model gets the
// one served. The name is ModelName (--alias), or it with ".gguf".
func (s *Server) checkModel(name string) *apiError {
	if name == "" || name == s.opts.ModelName || name == s.opts.ModelName+".gguf" {
		return nil
	}
	return s.modelNotFound(name)
}

func (s *Server) modelNotFound(name string) *apiError {
	return &apiError{status: http.StatusNotFound, Type: "invalid_request_error", Param: strPtr("model"), Code: strPtr("model_not_found"),
		Message: "the model '" + name + "' does not exist; this server serves '" + s.opts.ModelName + "'"}
}

// handleHealth serves GET /health: 200 while serving, 503 once shutting
// down, with the sequences in use.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st := s.e.Stats()
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
	tok := s.e.Tokenizer()
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
	}
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if e := s.validateIDs(req.Tokens, "tokens"); e != nil {
		writeError(w, e)
		return
	}
	s.writeJSON(w, map[string]any{"content": s.e.Tokenizer().Decode(req.Tokens, true)})
}
