package server

import (
	"math"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/shimmer-llm/shimmer/engine"
)

// adapterID finds a loaded adapter by the name a "MODEL+ADAPTER" request
// gives: its file name without .gguf, its general.name, or its path.
func (b *backend) adapterID(name string) int {
	for _, a := range b.e.Adapters() {
		base := strings.TrimSuffix(filepath.Base(a.Path), ".gguf")
		if name == base || name == a.Name || name == a.Path || trimGGUF(name) == base {
			return a.ID
		}
	}
	return -1
}

// loraList validates a "lora" list against the loaded adapters.
func (b *backend) loraList(list []loraScale, param string) ([]engine.LoRAScale, *apiError) {
	n := len(b.e.Adapters())
	out := make([]engine.LoRAScale, 0, len(list))
	for i, l := range list {
		if l.ID == nil {
			return nil, invalid(param, "'%s[%d]' has no 'id'", param, i)
		}
		if *l.ID < 0 || *l.ID >= n {
			return nil, invalid(param, "'%s[%d]': adapter id %d does not exist (%d adapters are loaded; GET /lora-adapters lists them)", param, i, *l.ID, n)
		}
		scale := 0.0
		if l.Scale != nil {
			scale = *l.Scale
		}
		if math.IsNaN(scale) || math.Abs(scale) > 1e4 {
			return nil, invalid(param, "'%s[%d]': scale %g is not usable", param, i, scale)
		}
		out = append(out, engine.LoRAScale{ID: *l.ID, Scale: float32(scale)})
	}
	return out, nil
}

// loraAdapter is one entry of GET /lora-adapters, as llama-server lists
// them (id, path, scale), with the adapter's name.
type loraAdapter struct {
	ID    int     `json:"id"`
	Path  string  `json:"path"`
	Name  string  `json:"name"`
	Scale float32 `json:"scale"`
}

// handleLoRAAdapters serves GET /lora-adapters (the loaded adapters and
// their default scales) and POST /lora-adapters (a list of {"id",
// "scale"} setting the defaults of later requests; unlisted adapters 0),
// as llama-server does. A server of several models takes ?model=NAME.
func (s *Server) handleLoRAAdapters(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, Type: "invalid_request_error", Message: "use GET or POST on /lora-adapters"})
		return
	}
	b, release, e := s.acquire(r.Context(), r.URL.Query().Get("model"))
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	if r.Method == http.MethodPost {
		var list []loraScale
		if e := decodeJSON(r.Body, &list); e != nil {
			writeError(w, e)
			return
		}
		scales, e := b.loraList(list, "body")
		if e != nil {
			writeError(w, e)
			return
		}
		if err := b.e.SetLoRAScales(scales); err != nil {
			writeError(w, invalid("body", "%v", err))
			return
		}
		s.writeJSON(w, map[string]any{"success": true})
		return
	}
	out := []loraAdapter{}
	for _, a := range b.e.Adapters() {
		out = append(out, loraAdapter{ID: a.ID, Path: a.Path, Name: a.Name, Scale: a.Scale})
	}
	s.writeJSON(w, out)
}
