package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/engine"
)

// A browser's preflight from an allowed origin (a --cors one, or a
// localhost page) is answered with the Access-Control-Allow-* headers
// the Fetch standard requires, and the actual response names the origin;
// other origins get none. HEAD works where GET does, and the
// Authorization scheme is matched case-insensitively.
func TestCORS(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{APIKey: "k", CORSOrigins: []string{"https://app.example.com"}})
	do := func(method, path, origin string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, path, strings.NewReader(`{"prompt": "x", "max_tokens": 1}`))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, origin := range []string{"https://app.example.com", "http://localhost:5173", "http://127.0.0.1:3000"} {
		r := do(http.MethodOptions, f.ts.URL+"/v1/completions", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
		h := r.Header
		if r.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight from %s: %d %v", origin, r.StatusCode, h)
		}
		r = do(http.MethodPost, f.ts.URL+"/v1/completions", origin, "Authorization", "Bearer k", "Content-Type", "application/json")
		if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("POST from %s: %d, Allow-Origin %q", origin, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// Without an API key, other origins are refused (with one, any page
	// may call: it must send the key).
	nokey := newFixture(t, engine.Options{}, Options{CORSOrigins: []string{"https://app.example.com"}})
	for _, origin := range []string{"https://evil.example", "http://localhost.evil.example", "null"} {
		r := do(http.MethodOptions, nokey.ts.URL+"/v1/completions", origin, "Access-Control-Request-Method", "POST")
		if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from %s allowed: %v", origin, r.Header)
		}
	}
	// Without an Authorization header a preflighted request is refused.
	if r := do(http.MethodPost, f.ts.URL+"/v1/completions", "https://app.example.com", "Content-Type", "application/json"); r.StatusCode != 401 {
		t.Errorf("POST without the key: %d", r.StatusCode)
	}
	if r := do(http.MethodOptions, f.ts.URL+"/v1/completions", "https://evil.example", "Access-Control-Request-Method", "POST"); r.Header.Get("Access-Control-Allow-Origin") != "https://evil.example" {
		t.Errorf("with an API key, a preflight from any origin: %v", r.Header)
	}
	if r := do(http.MethodPost, f.ts.URL+"/v1/completions", "https://evil.example", "Content-Type", "application/json"); r.StatusCode != 401 {
		t.Errorf("POST from another origin without the key: %d", r.StatusCode)
	}
	for _, auth := range []string{"bearer k", "BEARER k", "Bearer  k"} {
		if r := do(http.MethodGet, f.ts.URL+"/v1/models/"+model, "", "Authorization", auth); r.StatusCode != 200 {
			t.Errorf("Authorization %q: %d", auth, r.StatusCode)
		}
	}
	if r := do(http.MethodHead, f.ts.URL+"/v1/models/"+model, "", "Authorization", "Bearer k"); r.StatusCode != 200 {
		t.Errorf("HEAD /v1/models: %d", r.StatusCode)
	}
	if r := do(http.MethodHead, f.ts.URL+"/health", ""); r.StatusCode != 200 {
		t.Errorf("HEAD /health: %d", r.StatusCode)
	}
	if r := do(http.MethodHead, f.ts.URL+"/v1/completions", "", "Authorization", "Bearer k"); r.StatusCode != 405 {
		t.Errorf("HEAD on a POST endpoint: %d", r.StatusCode)
	}
	// Any origin with "*".
	star := newFixture(t, engine.Options{}, Options{CORSOrigins: []string{"*"}})
	if r := do(http.MethodOptions, star.ts.URL+"/v1/models", "https://anywhere.example", "Access-Control-Request-Method", "GET"); r.Header.Get("Access-Control-Allow-Origin") != "https://anywhere.example" {
		t.Errorf("--cors '*': %v", r.Header)
	}
}

// With StrictModelName, a request naming a model the server does not
// serve gets OpenAI's 404 model_not_found, naming both; the served name
// (or its file name) and no name at all are answered.
func TestUnknownModel(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{StrictModelName: true})
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}`},
		{"/v1/completions", `{"model": "gpt-4o", "prompt": "hi", "max_tokens": 1}`},
		{"/v1/embeddings", `{"model": "gpt-4o", "input": "hi"}`},
		{"/v1/rerank", `{"model": "gpt-4o", "query": "q", "documents": ["d"]}`},
	} {
		code, _, body := post(t, f.ts.URL+c.path, c.body)
		if code != 404 || !strings.Contains(body, `"model_not_found"`) || !strings.Contains(body, "gpt-4o") || !strings.Contains(body, model) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	for _, name := range []string{`"model": "` + model + `", `, `"model": "` + model + `.gguf", `, ""} {
		if code, _, body := post(t, f.ts.URL+"/v1/completions", `{`+name+`"prompt": "hi", "max_tokens": 1}`); code != 200 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code := getStatus(t, f.ts.URL+"/v1/models/gpt-4o"); code != 404 {
		t.Errorf("GET /v1/models/gpt-4o: %d", code)
	}
}

// By default a one-model server answers whatever model a request names
// with its model, as llama-server does, and names its own model in the
// response; GET /v1/models/NAME still tells which names exist.
func TestAnyModelNameServed(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{})
	code, _, body := post(t, f.ts.URL+"/v1/chat/completions", `{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}`)
	if code != 200 || !strings.Contains(body, `"model":"`+model+`"`) {
		t.Errorf("chat naming gpt-4o: %d %s", code, body)
	}
	if code := getStatus(t, f.ts.URL+"/v1/models/gpt-4o"); code != 404 {
		t.Errorf("GET /v1/models/gpt-4o: %d", code)
	}
}

// GET / is the chat page, needing no API key (it asks for one) and taking
// nothing from elsewhere; with NoUI it is a 404, as llama-server's
// --no-webui.
func TestChatPage(t *testing.T) {
	f := newFixture(t, engine.Options{}, Options{APIKey: "k"})
	resp, err := http.Get(f.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != 200 || !strings.HasPrefix(page, "<!doctype html>") || !strings.Contains(page, `fetch("/v1/chat/completions"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("GET /: %d %v", resp.StatusCode, resp.Header)
	}
	off := newFixture(t, engine.Options{}, Options{NoUI: true})
	if code := getStatus(t, off.ts.URL+"/"); code != 404 {
		t.Errorf("GET / with NoUI: %d", code)
	}
}

// getStatus GETs url and returns the status.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
