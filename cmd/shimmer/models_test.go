package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// shimmerIn runs shimmer in a home of its own (no real caches seen), with
// env added.
func shimmerIn(t *testing.T, home string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(shimmerBin, args...)
	cmd.Dir = home
	cmd.Env = append(append(homeEnv(home), "HF_TOKEN=", "HF_ENDPOINT=http://127.0.0.1:1"), env...)
	return runCmd(t, cmd, "")
}

// homeEnv is the environment with home as the user's home and no model
// store of this machine's in it.
func homeEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"HF_HUB_CACHE=", "HF_HOME=", "OLLAMA_MODELS=", "SHIMMER_MODELS=")
}

// TestPullListShowRm pulls a real model from a Hugging Face stand-in (the
// listing and resolve endpoints as the hub documents them), runs it by
// name and as hf.co/…, lists, shows and removes it, and checks the errors
// a user meets: a missing repository, a gated one, a name not found.
func TestPullListShowRm(t *testing.T) {
	model, err := os.ReadFile(testdata.Path(t, "models", "stories260K-Q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(model)
	badSize := true
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/models/acme/stories-GGUF":
			json.NewEncoder(w).Encode(map[string]any{"siblings": []map[string]any{
				{"rfilename": "stories260K-Q8_0.gguf", "size": len(model), "lfs": map[string]any{"sha256": hex.EncodeToString(sum[:]), "size": len(model)}},
				{"rfilename": "README.md", "size": 5},
			}})
		case "/acme/stories-GGUF/resolve/main/stories260K-Q8_0.gguf":
			if badSize {
				w.Header().Set("X-Linked-Size", "1")
			}
			w.Write(model)
		case "/api/models/acme/gated":
			w.Header().Set("X-Error-Code", "GatedRepo")
			http.Error(w, "restricted", http.StatusUnauthorized)
		default:
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, "Repository not found", http.StatusNotFound)
		}
	}))
	defer hub.Close()
	home := t.TempDir()
	env := []string{"HF_ENDPOINT=" + hub.URL}
	ref := testdata.LoadReference(t, "stories260K-Q8_0.text-once")

	// X-Linked-Size disagrees with the listing: refused, nothing kept.
	out, errs, code := shimmerIn(t, home, env, "pull", "acme/stories-GGUF")
	if code != 1 || !strings.Contains(errs, "the listing says") || strings.Count(strings.TrimSpace(errs), "\n") > 1 {
		t.Fatalf("pull with a wrong size: %d %q", code, errs)
	}
	badSize = false

	out, errs, code = shimmerIn(t, home, env, "pull", "hf.co/acme/stories-GGUF:Q8_0")
	if code != 0 || !strings.Contains(errs, "pulled acme/stories-GGUF:Q8_0") {
		t.Fatalf("pull: %d %q %q", code, out, errs)
	}
	out, errs, code = shimmerIn(t, home, env, "list")
	if code != 0 || !strings.Contains(out, "acme/stories-GGUF:Q8_0") || !strings.Contains(out, "llama") || !strings.Contains(out, "shimmer") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	for _, name := range []string{"acme/stories-GGUF:Q8_0", "hf.co/acme/stories-GGUF"} {
		out, errs, code = shimmerIn(t, home, env, "run", "-m", name, "--temp", "0", "-n", fmt.Sprint(ref.NGen), ref.PromptText)
		if code != 0 || out != ref.GreedyText {
			t.Fatalf("run -m %s: %d %q %q", name, code, out, errs)
		}
	}
	out, _, code = shimmerIn(t, home, env, "show", "--no-tensors", "acme/stories-GGUF:Q8_0")
	if code != 0 || !strings.Contains(out, "name:        acme/stories-GGUF:Q8_0 (shimmer)") || !strings.Contains(out, "architecture llama") {
		t.Fatalf("show: %d %q", code, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "acme/nosuch"}, "acme/nosuch: not found on Hugging Face (HTTP 404)"},
		{[]string{"pull", "acme/gated"}, "acme/gated is gated"},
		{[]string{"run", "-m", "acme/other-GGUF:Q4_0", "hi"}, "not among the 1 models found"},
		{[]string{"rm", "nosuch"}, "no such model"},
	} {
		_, errs, code := shimmerIn(t, home, env, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 1 {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, errs, c.want)
		}
	}
	out, errs, code = shimmerIn(t, home, env, "rm", "acme/stories-GGUF:Q8_0")
	if code != 0 || !strings.Contains(out, "removed acme/stories-GGUF:Q8_0") {
		t.Fatalf("rm: %d %q %q", code, out, errs)
	}
	if out, _, _ = shimmerIn(t, home, env, "list"); strings.Contains(out, "stories") {
		t.Fatalf("still listed after rm: %q", out)
	}
}
