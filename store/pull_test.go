package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub is a Hugging Face server written from the documented behaviour
// of the real one: GET /api/models/ORG/REPO[/revision/REV]?blobs=true lists
// siblings with lfs.sha256; GET /ORG/REPO/resolve/REV/FILE answers 302 to
// a CDN on another host, with ETag, X-Linked-Etag, X-Linked-Size and
// X-Repo-Commit; the CDN honours Range. Unknown repositories get 404
// (RepoNotFound), gated ones 401 (GatedRepo) without the token.
type fakeHub struct {
	hub, cdn *httptest.Server
	repos    map[string]map[string][]byte // repo → file → bytes
	gated    map[string]bool
	token    string

	mu       sync.Mutex
	served   map[string]int64 // bytes of each file the CDN sent
	cutAfter int64            // the CDN drops the next connection after this many bytes (0: never)
	corrupt  bool             // the CDN flips a byte of what it sends
	authCDN  []string         // Authorization headers that reached the CDN
	ranges   []string
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{repos: map[string]map[string][]byte{}, gated: map[string]bool{}, served: map[string]int64{}, token: "hf_secret"}
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	// The CDN is another host (localhost vs 127.0.0.1), as on the real hub.
	h.cdn.URL = strings.Replace(h.cdn.URL, "127.0.0.1", "localhost", 1)
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/models/"); ok {
		parts := strings.Split(rest, "/")
		repo := parts[0] + "/" + parts[1]
		if len(parts) == 4 && parts[2] == "revision" && parts[3] != "main" {
			w.Header().Set("X-Error-Code", "RevisionNotFound")
			http.Error(w, `{"error":"Invalid rev id"}`, http.StatusNotFound)
			return
		}
		if !h.allowed(w, r, repo) {
			return
		}
		var sib []map[string]any
		for name, b := range h.repos[repo] {
			sib = append(sib, map[string]any{"rfilename": name, "size": len(b), "blobId": "x",
				"lfs": map[string]any{"size": len(b), "sha256": sha(b), "pointerSize": 134}})
		}
		sib = append(sib, map[string]any{"rfilename": "README.md", "size": 10, "blobId": "y"})
		json.NewEncoder(w).Encode(map[string]any{"id": repo, "modelId": repo, "sha": "abc123", "siblings": sib})
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
	if len(parts) == 5 && parts[2] == "resolve" {
		repo, file := parts[0]+"/"+parts[1], parts[4]
		if !h.allowed(w, r, repo) {
			return
		}
		b, ok := h.repos[repo][file]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.Error(w, "Entry not found", http.StatusNotFound)
			return
		}
		w.Header().Set("ETag", `"`+sha(b)+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sha(b)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
		w.Header().Set("X-Repo-Commit", "abc123")
		http.Redirect(w, r, h.cdn.URL+"/blobs/"+repo+"/"+file, http.StatusFound)
		return
	}
	http.NotFound(w, r)
}

func (h *fakeHub) allowed(w http.ResponseWriter, r *http.Request, repo string) bool {
	if _, ok := h.repos[repo]; !ok {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		return false
	}
	if h.gated[repo] && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Code", "GatedRepo")
		http.Error(w, `{"error":"Access to model `+repo+` is restricted."}`, http.StatusUnauthorized)
		return false
	}
	return true
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/blobs/"), "/", 3)
	b := h.repos[parts[0]+"/"+parts[1]][parts[2]]
	h.mu.Lock()
	h.authCDN = append(h.authCDN, r.Header.Get("Authorization"))
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	cut, corrupt := h.cutAfter, h.corrupt
	h.cutAfter = 0
	h.mu.Unlock()
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || n > int64(len(b)) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(b)-1, len(b)))
	}
	body := append([]byte(nil), b[start:]...)
	if corrupt && len(body) > 0 {
		body[len(body)/2] ^= 0xff
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	if cut > 0 && cut < int64(len(body)) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		h.count(parts[2], cut)
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}
	w.Write(body)
	h.count(parts[2], int64(len(body)))
}

func (h *fakeHub) count(file string, n int64) {
	h.mu.Lock()
	h.served[file] += n
	h.mu.Unlock()
}

func (h *fakeHub) opts() PullOptions { return PullOptions{Endpoint: h.hub.URL, Token: "-"} }

func pullT(t *testing.T, s *Store, h *fakeHub, ref string, o PullOptions) (Model, error) {
	t.Helper()
	r, err := ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return s.Pull(context.Background(), r, o)
}

func TestPull(t *testing.T) {
	h := newFakeHub(t)
	q4 := ggufBytes(t, "llama", "model", 1000, 0, 1)
	q8 := ggufBytes(t, "llama", "model", 2000, 0, 1)
	f16 := ggufBytes(t, "llama", "model", 4000, 0, 1)
	h.repos["acme/tiny-GGUF"] = map[string][]byte{"tiny.Q4_K_M.gguf": q4, "tiny.Q8_0.gguf": q8, "tiny.F16.gguf": f16}
	h.repos["acme/big-GGUF"] = map[string][]byte{
		"Q8_0/big-Q8_0-00001-of-00002.gguf": ggufBytes(t, "llama", "model", 500, 0, 2),
		"Q8_0/big-Q8_0-00002-of-00002.gguf": ggufBytes(t, "llama", "model", 700, 1, 2),
		"big-F16.gguf":                      f16,
	}
	h.repos["acme/plain"] = map[string][]byte{"model.gguf": q8}
	s := &Store{Dir: t.TempDir()}

	var progress []Progress
	o := h.opts()
	o.Progress = func(p Progress) { progress = append(progress, p) }
	// The default quantization.
	m, err := pullT(t, s, h, "hf.co/acme/tiny-GGUF", o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "acme/tiny-GGUF:Q4_K_M" || m.Source != SourceShimmer || m.Arch != "llama" || m.Size != int64(len(q4)) {
		t.Fatalf("pulled %+v", m)
	}
	if b, _ := os.ReadFile(m.Path); string(b) != string(q4) {
		t.Fatal("pulled bytes differ")
	}
	if len(progress) == 0 || !progress[len(progress)-1].Finished || progress[len(progress)-1].Done != int64(len(q4)) {
		t.Fatalf("progress %+v", progress)
	}
	for _, a := range h.authCDN {
		if a != "" {
			t.Fatalf("the token reached the CDN host: %q", a)
		}
	}
	// A quantization by name; pulling it again fetches nothing.
	if m, err = pullT(t, s, h, "acme/tiny-GGUF:q8_0", h.opts()); err != nil || m.Name != "acme/tiny-GGUF:Q8_0" {
		t.Fatalf("%+v %v", m, err)
	}
	before := h.served["tiny.Q8_0.gguf"]
	if _, err = pullT(t, s, h, "acme/tiny-GGUF:Q8_0", h.opts()); err != nil || h.served["tiny.Q8_0.gguf"] != before {
		t.Fatalf("second pull: %v, %d bytes more", err, h.served["tiny.Q8_0.gguf"]-before)
	}
	// A file by path; a split model, both parts, loads as one.
	if m, err = pullT(t, s, h, "acme/tiny-GGUF/tiny.F16.gguf", h.opts()); err != nil || m.Quant != "F16" {
		t.Fatalf("%+v %v", m, err)
	}
	m, err = pullT(t, s, h, "acme/big-GGUF:Q8_0", h.opts())
	if err != nil || len(m.Files) != 2 || m.Params != 1200 || m.Name != "acme/big-GGUF:Q8_0" {
		t.Fatalf("split: %+v %v", m, err)
	}
	if found, err := s.Find("acme/big-GGUF:Q8_0"); err != nil || found.Path != m.Path {
		t.Fatalf("find split: %v", err)
	}
	// Without a known quantization: the smallest file.
	if m, err = pullT(t, s, h, "acme/plain", h.opts()); err != nil || m.Name != "acme/plain:Q8_0" && m.Name != "acme/plain/model.gguf" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestPullResume(t *testing.T) {
	h := newFakeHub(t)
	file := ggufBytes(t, "llama", "model", 300000, 0, 1)
	h.repos["acme/r-GGUF"] = map[string][]byte{"r.Q8_0.gguf": file}
	s := &Store{Dir: t.TempDir()}
	h.cutAfter = 500000
	_, err := pullT(t, s, h, "acme/r-GGUF", h.opts())
	if err == nil || !strings.Contains(err.Error(), "pull again to resume") {
		t.Fatalf("cut download: %v", err)
	}
	dest := filepath.Join(s.Dir, "acme", "r-GGUF", "r.Q8_0.gguf")
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("a partial download is visible under the final name")
	}
	if ms, _ := s.List(); len(ms) != 0 {
		t.Fatalf("partial download listed: %+v", ms)
	}
	st, err := os.Stat(dest + ".partial")
	if err != nil || st.Size() == 0 || st.Size() >= int64(len(file)) {
		t.Fatalf("partial: %v %v", st, err)
	}
	var resumed int64
	o := h.opts()
	o.Progress = func(p Progress) { resumed = p.Resumed }
	m, err := pullT(t, s, h, "acme/r-GGUF", o)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(m.Path); sha(b) != sha(file) {
		t.Fatal("resumed file differs")
	}
	if got := h.served["r.Q8_0.gguf"]; got != int64(len(file)) {
		t.Fatalf("the CDN sent %d bytes for a %d-byte file", got, len(file))
	}
	if resumed != st.Size() || h.ranges[len(h.ranges)-1] != fmt.Sprintf("bytes=%d-", st.Size()) {
		t.Fatalf("resumed from %d, ranges %v", resumed, h.ranges)
	}
	if _, err := os.Stat(dest + ".partial"); !os.IsNotExist(err) {
		t.Fatal("partial file left behind")
	}
}

func TestPullErrors(t *testing.T) {
	h := newFakeHub(t)
	h.repos["acme/gated-GGUF"] = map[string][]byte{"g.Q4_0.gguf": ggufBytes(t, "llama", "model", 10, 0, 1)}
	h.gated["acme/gated-GGUF"] = true
	h.repos["acme/none"] = map[string][]byte{}
	h.repos["acme/c-GGUF"] = map[string][]byte{"c.Q4_0.gguf": ggufBytes(t, "llama", "model", 1000, 0, 1)}
	s := &Store{Dir: t.TempDir()}
	for _, c := range []struct{ ref, want string }{
		{"acme/nosuch", "not found on Hugging Face (HTTP 404)"},
		{"acme/gated-GGUF", "is gated: accept its conditions at https://huggingface.co/acme/gated-GGUF and set HF_TOKEN"},
		{"acme/none", "has no GGUF files"},
		{"acme/c-GGUF:Q2_K", "has no Q2_K file (it has: Q4_0)"},
		{"acme/c-GGUF/other.gguf", "has no file other.gguf"},
		{"acme/c-GGUF@v9", `has no revision "v9"`},
	} {
		if _, err := pullT(t, s, h, c.ref, h.opts()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pull %s: %v, want %q", c.ref, err, c.want)
		}
	}
	// With the token the gated repository is fetched.
	o := h.opts()
	o.Token = h.token
	if _, err := pullT(t, s, h, "acme/gated-GGUF", o); err != nil {
		t.Fatalf("gated with token: %v", err)
	}
	// A corrupted body is refused and nothing of it stays.
	h.corrupt = true
	_, err := pullT(t, s, h, "acme/c-GGUF", h.opts())
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("corrupt: %v", err)
	}
	dir := filepath.Join(s.Dir, "acme", "c-GGUF")
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left after a corrupt download: %v", ents)
	}
	if _, err := s.Find("acme/c-GGUF"); err == nil {
		t.Fatal("the corrupt model is found")
	}
}
