package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PullOptions configure Pull. Zero values pick the defaults.
type PullOptions struct {
	// Endpoint is the Hugging Face server (default $HF_ENDPOINT, else
	// https://huggingface.co).
	Endpoint string
	// Token authorises gated and private repositories (default $HF_TOKEN,
	// else $HUGGING_FACE_HUB_TOKEN). It is sent to the endpoint only, not
	// to the hosts downloads are redirected to.
	Token string
	// Client makes the requests (default: a client without an overall
	// timeout; ctx bounds a pull).
	Client *http.Client
	// Progress, if set, is called as bytes arrive (at most every 100 ms
	// per file, and once when each file is done).
	Progress func(Progress)
}

// Progress reports a download.
type Progress struct {
	File        string // path inside the repository
	Done, Total int64  // bytes of this file
	Resumed     int64  // bytes already on disk when it (re)started
	Finished    bool   // the file is complete and verified
}

func (o *PullOptions) defaults() {
	if o.Endpoint == "" {
		o.Endpoint = os.Getenv("HF_ENDPOINT")
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://huggingface.co"
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	if o.Token == "" {
		o.Token = os.Getenv("HF_TOKEN")
	}
	if o.Token == "" {
		o.Token = os.Getenv("HUGGING_FACE_HUB_TOKEN")
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				req.Header.Del("Authorization") // the token is the endpoint's, not the CDN's
			}
			return nil
		}}
	}
}

// sibling is one file of a repository listing (GET /api/models/REPO
// ?blobs=true).
type sibling struct {
	Name string `json:"rfilename"`
	Size int64  `json:"size"`
	LFS  *struct {
		SHA256 string `json:"sha256"`
		Size   int64  `json:"size"`
	} `json:"lfs"`
}

func (s sibling) size() int64 {
	if s.LFS != nil && s.LFS.Size > 0 {
		return s.LFS.Size
	}
	return s.Size
}

// Pull downloads the model r names into the store's directory (unless it
// is there already) and returns it. Each file is written to FILE.partial,
// resumed from there with a Range request if an earlier pull was cut off,
// checked against the repository's sha256 and size, and only then renamed
// into place.
func (s *Store) Pull(ctx context.Context, r Ref, opts PullOptions) (Model, error) {
	if s.Dir == "" {
		return Model{}, errors.New("store: no store directory to pull into (set $SHIMMER_MODELS)")
	}
	opts.defaults()
	files, err := s.listing(ctx, r, &opts)
	if err != nil {
		return Model{}, err
	}
	pick, err := choose(r, files)
	if err != nil {
		return Model{}, err
	}
	repoDir := filepath.Join(s.Dir, filepath.FromSlash(r.Repo))
	var need int64
	for _, f := range pick {
		dest := filepath.Join(repoDir, filepath.FromSlash(f.Name))
		if st, err := os.Stat(dest); err == nil && st.Size() == f.size() {
			continue
		}
		need += f.size()
		if st, err := os.Stat(dest + ".partial"); err == nil && st.Size() <= f.size() {
			need -= st.Size()
		}
	}
	if err := os.MkdirAll(repoDir, 0o755); err != nil {
		return Model{}, fmt.Errorf("store: %w", err)
	}
	if free, ok := freeBytes(repoDir); ok && need > free {
		return Model{}, fmt.Errorf("store: not enough disk space in %s: the download needs %s more, %s are free", repoDir, human(need), human(free))
	}
	for _, f := range pick {
		dest := filepath.Join(repoDir, filepath.FromSlash(f.Name))
		if st, err := os.Stat(dest); err != nil || st.Size() != f.size() {
			if err := s.download(ctx, r, f, dest, &opts); err != nil {
				return Model{}, err
			}
		} else if opts.Progress != nil {
			opts.Progress(Progress{File: f.Name, Done: f.size(), Total: f.size(), Resumed: f.size(), Finished: true})
		}
	}
	first := filepath.Join(repoDir, filepath.FromSlash(pick[0].Name))
	// Named as List names it: the name depends on the repository's other
	// files here.
	for _, m := range group(ggufFiles(repoDir), SourceShimmer, r.Repo, repoName(r.Repo)) {
		if m.Path == first {
			if m.Err == nil {
				describe(&m)
			}
			return m, m.Err
		}
	}
	return Model{}, fmt.Errorf("store: %s is not in %s after the pull", pick[0].Name, repoDir)
}

// listing fetches the repository's file list.
func (s *Store) listing(ctx context.Context, r Ref, o *PullOptions) ([]sibling, error) {
	u := o.Endpoint + "/api/models/" + r.Repo
	if r.Revision != "main" {
		u += "/revision/" + url.PathEscape(r.Revision)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?blobs=true", nil)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	o.auth(req)
	resp, err := o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("store: listing %s: %w", r.Repo, err)
	}
	defer resp.Body.Close()
	if err := httpError(resp, r, ""); err != nil {
		return nil, err
	}
	var info struct {
		Siblings []sibling `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("store: listing %s: bad response from %s: %w", r.Repo, o.Endpoint, err)
	}
	return info.Siblings, nil
}

func (o *PullOptions) auth(req *http.Request) {
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	req.Header.Set("User-Agent", "shimmer")
}

// httpError turns a failed Hugging Face response into a clear error, using
// its X-Error-Code (RepoNotFound, GatedRepo, RevisionNotFound,
// EntryNotFound) where it sends one.
func httpError(resp *http.Response, r Ref, file string) error {
	if resp.StatusCode < 300 {
		return nil
	}
	code := resp.Header.Get("X-Error-Code")
	what := r.Repo
	if file != "" {
		what = r.Repo + "/" + file
	}
	switch {
	case code == "GatedRepo" || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("store: %s is gated: accept its conditions at https://huggingface.co/%s and set HF_TOKEN to a token of that account (HTTP %d)", r.Repo, r.Repo, resp.StatusCode)
	case code == "RevisionNotFound":
		return fmt.Errorf("store: %s has no revision %q (HTTP %d)", r.Repo, r.Revision, resp.StatusCode)
	case code == "EntryNotFound":
		return fmt.Errorf("store: %s: no such file (HTTP %d)", what, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("store: %s: unauthorized (HTTP 401): the repository does not exist, or it is private or gated and needs HF_TOKEN", r.Repo)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("store: %s: not found on Hugging Face (HTTP 404)", what)
	}
	return fmt.Errorf("store: %s: HTTP %s", what, resp.Status)
}

// choose picks the files of the model r asks for: all parts of a split one.
func choose(r Ref, files []sibling) ([]sibling, error) {
	groups := map[string][]sibling{}
	var names []string
	for _, f := range files {
		base := strings.ToLower(path.Base(f.Name))
		if !strings.HasSuffix(base, ".gguf") || strings.HasPrefix(base, "mmproj") {
			continue
		}
		k := splitFirst(f.Name)
		if _, ok := groups[k]; !ok {
			names = append(names, k)
		}
		groups[k] = append(groups[k], f)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("store: %s has no GGUF files", r.Repo)
	}
	sort.Strings(names)
	size := func(k string) (n int64) {
		for _, f := range groups[k] {
			n += f.size()
		}
		return n
	}
	var k string
	switch {
	case r.File != "":
		for _, n := range names {
			if n == splitFirst(r.File) {
				k = n
			}
		}
		if k == "" {
			return nil, fmt.Errorf("store: %s has no file %s (its GGUF files: %s)", r.Repo, r.File, strings.Join(names, ", "))
		}
	case r.Quant != "":
		for _, n := range names {
			if QuantOf(n) == r.Quant && (k == "" || size(n) < size(k)) {
				k = n
			}
		}
		if k == "" {
			return nil, fmt.Errorf("store: %s has no %s file (it has: %s)", r.Repo, r.Quant, strings.Join(quantsOf(names), ", "))
		}
	default:
	find:
		for _, q := range defaultQuants {
			for _, n := range names {
				if QuantOf(n) == q {
					k = n
					break find
				}
			}
		}
		if k == "" {
			k = names[0]
			for _, n := range names[1:] {
				if size(n) < size(k) {
					k = n
				}
			}
		}
	}
	g := groups[k]
	sort.Slice(g, func(i, j int) bool { return g[i].Name < g[j].Name })
	if _, count := splitPart(k); count != len(g) {
		return nil, fmt.Errorf("store: %s: split model %s lists %d of its %d parts", r.Repo, k, len(g), count)
	}
	return g, nil
}

func quantsOf(names []string) []string {
	var qs []string
	seen := map[string]bool{}
	for _, n := range names {
		q := QuantOf(n)
		if q == "" {
			q = path.Base(n)
		}
		if !seen[q] {
			seen[q] = true
			qs = append(qs, q)
		}
	}
	return qs
}

// download fetches one file to dest, resuming dest.partial.
func (s *Store) download(ctx context.Context, r Ref, f sibling, dest string, o *PullOptions) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	part := dest + ".partial"
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer out.Close()
	h := sha256.New()
	have, err := hashPrefix(out, h, f.size())
	if err != nil {
		return fmt.Errorf("store: %s: %w", part, err)
	}
	u := o.Endpoint + "/" + r.Repo + "/resolve/" + url.PathEscape(r.Revision) + "/" + escapePath(f.Name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	o.auth(req)
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("store: downloading %s: %w", f.Name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have == f.size():
		// Complete already: verify below.
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(have, 10)+"-") {
			return fmt.Errorf("store: downloading %s: the server answered the range request with %q", f.Name, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		// The whole file (the server ignored the range, or none was asked): start over.
		if err := out.Truncate(0); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if _, err := out.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		h.Reset()
		have = 0
	default:
		return httpError(resp, r, f.Name)
	}
	if n := resp.Header.Get("X-Linked-Size"); n != "" && resp.StatusCode == http.StatusOK {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v != f.size() {
			return fmt.Errorf("store: %s: the listing says %d bytes but the download %d", f.Name, f.size(), v)
		}
	}
	pw := &progressWriter{p: Progress{File: f.Name, Done: have, Total: f.size(), Resumed: have}, fn: o.Progress}
	// One byte more than expected shows a longer body (have ≤ the size).
	if _, err := io.Copy(io.MultiWriter(out, h, pw), io.LimitReader(resp.Body, f.size()-have+1)); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("store: disk full writing %s (%s of %s written; free space and pull again to resume)", part, human(pw.p.Done), human(f.size()))
		}
		return fmt.Errorf("store: downloading %s: %w (%s of %s kept in %s; pull again to resume)", f.Name, err, human(pw.p.Done), human(f.size()), part)
	}
	done := pw.p.Done
	bad := func(format string, a ...any) error {
		out.Close()
		os.Remove(part)
		return fmt.Errorf("store: %s: "+format+"; the download was removed", append([]any{f.Name}, a...)...)
	}
	if done != f.size() {
		if done > f.size() {
			return bad("the server sent more than the %d bytes the listing gives", f.size())
		}
		return fmt.Errorf("store: downloading %s: the connection ended after %s of %s (kept in %s; pull again to resume)", f.Name, human(done), human(f.size()), part)
	}
	if f.LFS != nil && f.LFS.SHA256 != "" {
		if sum := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(sum, f.LFS.SHA256) {
			return bad("checksum mismatch: sha256 %s, the repository says %s", sum, f.LFS.SHA256)
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(part, dest); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if o.Progress != nil {
		pw.p.Finished = true
		o.Progress(pw.p)
	}
	return nil
}

// hashPrefix hashes what a partial file holds and leaves the offset at its
// end; a file longer than want is emptied (it is not a prefix).
func hashPrefix(f *os.File, h hash.Hash, want int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() > want {
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		return f.Seek(0, io.SeekStart)
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, err
	}
	return n, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// progressWriter counts bytes and reports them, at most every 100 ms.
type progressWriter struct {
	p    Progress
	fn   func(Progress)
	last time.Time
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.p.Done += int64(len(b))
	if w.fn != nil {
		if now := time.Now(); now.Sub(w.last) >= 100*time.Millisecond {
			w.last = now
			w.fn(w.p)
		}
	}
	return len(b), nil
}

// human formats a byte count.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
