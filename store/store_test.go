package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/gguf"
)

// ggufBytes is a small valid GGUF file: an architecture, a type and one
// F32 tensor of n elements (so files differ in size), split part no of
// count when count > 1.
func ggufBytes(t testing.TB, arch, kind string, n, no, count int) []byte {
	t.Helper()
	w := gguf.NewWriter()
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if no == 0 {
		set("general.architecture", arch)
		set("general.type", kind)
		set("general.file_type", uint32(7)) // Q8_0
	}
	name := "w"
	if count > 1 {
		set("split.no", uint16(no))
		set("split.count", uint16(count))
		set("split.tensors.count", int32(count))
		name = fmt.Sprintf("w%d", no)
	}
	if err := w.AddTensor(name, gguf.TypeF32, []uint64{uint64(n)}, make([]byte, 4*n)); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtures lays out, under root, each place as its tool lays it out:
// shimmer's store, a Hugging Face hub cache with symlinked snapshots (two
// revisions), LM Studio, ollama (manifest → blob) and ./models.
func fixtures(t *testing.T, root string) *Store {
	s := &Store{
		Dir:      filepath.Join(root, "shimmer"),
		HFCache:  filepath.Join(root, "hf", "hub"),
		LMStudio: []string{filepath.Join(root, "lmstudio", "models"), filepath.Join(root, "no-such-dir")},
		Ollama:   filepath.Join(root, "ollama", "models"),
		Dirs:     []string{filepath.Join(root, "models")},
	}
	small := ggufBytes(t, "llama", "model", 16, 0, 1)
	// shimmer's store: two quantizations of one repository.
	writeFile(t, filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q4_K_M.gguf"), small)
	writeFile(t, filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf"), ggufBytes(t, "llama", "model", 32, 0, 1))
	writeFile(t, filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf.partial"), []byte("half"))
	// Hugging Face cache: blobs named by hash, snapshots symlinking to them.
	repo := filepath.Join(s.HFCache, "models--Qwen--Qwen3-0.6B-GGUF")
	blob := ggufBytes(t, "qwen3", "model", 64, 0, 1)
	writeFile(t, filepath.Join(repo, "blobs", "0123abcd"), blob)
	writeFile(t, filepath.Join(repo, "blobs", "4567ef01"), ggufBytes(t, "qwen3", "model", 48, 0, 1))
	writeFile(t, filepath.Join(repo, "refs", "main"), []byte("bbbb"))
	for _, snap := range []string{"aaaa", "bbbb"} {
		if err := os.MkdirAll(filepath.Join(repo, "snapshots", snap), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink(t, "../../blobs/0123abcd", filepath.Join(repo, "snapshots", "aaaa", "Qwen3-0.6B-Q8_0.gguf"))
	symlink(t, "../../blobs/4567ef01", filepath.Join(repo, "snapshots", "bbbb", "Qwen3-0.6B-Q8_0.gguf"))
	symlink(t, "../../blobs/missing", filepath.Join(repo, "snapshots", "bbbb", "Qwen3-0.6B-F16.gguf")) // not downloaded
	// LM Studio: PUBLISHER/REPO/FILE, with a projector that is not a model.
	lm := filepath.Join(root, "lmstudio", "models", "lmstudio-community", "gemma-3-1b-it-GGUF")
	writeFile(t, filepath.Join(lm, "gemma-3-1b-it-Q4_K_M.gguf"), ggufBytes(t, "gemma3", "model", 24, 0, 1))
	writeFile(t, filepath.Join(lm, "mmproj-model-f16.gguf"), small)
	// ollama: a library model and one pulled from Hugging Face.
	ol := s.Ollama
	olBlob := ggufBytes(t, "llama", "model", 40, 0, 1)
	writeFile(t, filepath.Join(ol, "blobs", "sha256-feedface"), olBlob)
	writeFile(t, filepath.Join(ol, "blobs", "sha256-c0ffee"), []byte(`{"model_format":"gguf"}`))
	manifest := func(model string) []byte {
		b, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
			"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:c0ffee", "size": 23},
			"layers": []map[string]any{
				{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:" + model, "size": len(olBlob)},
				{"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:c0ffee", "size": 23},
			}})
		return b
	}
	writeFile(t, filepath.Join(ol, "manifests", "registry.ollama.ai", "library", "llama3.2", "1b"), manifest("feedface"))
	writeFile(t, filepath.Join(ol, "manifests", "hf.co", "bartowski", "SmolLM2-GGUF", "Q4_K_M"), manifest("feedface"))
	writeFile(t, filepath.Join(ol, "manifests", "registry.ollama.ai", "library", "gone", "latest"), manifest("deadbeef"))
	// ./models: a plain file, a nested one, a split model, and an adapter.
	writeFile(t, filepath.Join(root, "models", "mine.gguf"), small)
	writeFile(t, filepath.Join(root, "models", "sub", "other.gguf"), small)
	for i := 0; i < 2; i++ {
		writeFile(t, filepath.Join(root, "models", fmt.Sprintf("big-Q8_0-%05d-of-00002.gguf", i+1)), ggufBytes(t, "llama", "model", 8, i, 2))
	}
	writeFile(t, filepath.Join(root, "models", "style-lora.gguf"), ggufBytes(t, "llama", "adapter", 8, 0, 1))
	return s
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	s := fixtures(t, root)
	ms, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Model{}
	var names []string
	for _, m := range ms {
		got[m.Name] = m
		names = append(names, m.Name)
	}
	want := []string{
		"Qwen/Qwen3-0.6B-GGUF:Q8_0", "acme/tiny-GGUF:Q4_K_M", "acme/tiny-GGUF:Q8_0",
		"big-Q8_0", "gone:latest", "hf.co/bartowski/SmolLM2-GGUF:Q4_K_M",
		"llama3.2:1b", "lmstudio-community/gemma-3-1b-it-GGUF:Q4_K_M", "mine", "style-lora", "sub/other",
	}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("names:\n got %v\nwant %v", names, want)
	}
	check := func(name, source, arch, kind, quant string, size int64, path string) {
		t.Helper()
		m := got[name]
		if m.Source != source || m.Arch != arch || m.Kind != kind || m.Quant != quant || m.Err != nil {
			t.Errorf("%s: %+v", name, m)
		}
		if st, err := os.Stat(m.Path); err != nil || size >= 0 && st.Size() != size {
			t.Errorf("%s: path %s: %v", name, m.Path, err)
		}
		if path != "" && m.Path != path {
			t.Errorf("%s: path %s, want %s", name, m.Path, path)
		}
	}
	check("acme/tiny-GGUF:Q8_0", SourceShimmer, "llama", "model", "Q8_0", -1, filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf"))
	// The newer snapshot's file wins; its size is the blob's.
	qwen := got["Qwen/Qwen3-0.6B-GGUF:Q8_0"]
	if st, _ := os.Stat(filepath.Join(s.HFCache, "models--Qwen--Qwen3-0.6B-GGUF", "blobs", "4567ef01")); qwen.Size != st.Size() || qwen.Repo != "Qwen/Qwen3-0.6B-GGUF" || qwen.Arch != "qwen3" {
		t.Errorf("hf cache model: %+v", qwen)
	}
	check("lmstudio-community/gemma-3-1b-it-GGUF:Q4_K_M", SourceLMStudio, "gemma3", "model", "Q4_K_M", -1, "")
	check("llama3.2:1b", SourceOllama, "llama", "model", "Q8_0", -1, filepath.Join(s.Ollama, "blobs", "sha256-feedface"))
	if m := got["hf.co/bartowski/SmolLM2-GGUF:Q4_K_M"]; m.Repo != "bartowski/SmolLM2-GGUF" || m.Quant != "Q4_K_M" {
		t.Errorf("ollama hf model: %+v", m)
	}
	if m := got["gone:latest"]; m.Err == nil || !strings.Contains(m.Err.Error(), "missing") {
		t.Errorf("manifest without its blob: %+v", m)
	}
	check("mine", SourceDir, "llama", "model", "Q8_0", -1, filepath.Join(root, "models", "mine.gguf"))
	big := got["big-Q8_0"]
	if len(big.Files) != 2 || big.Params != 16 || big.Err != nil {
		t.Errorf("split model: %+v", big)
	}
	check("style-lora", SourceDir, "llama", "adapter", "Q8_0", -1, "")
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	s := fixtures(t, root)
	for _, c := range []struct{ arg, path string }{
		{"acme/tiny-GGUF:Q8_0", filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf")},
		{"hf.co/acme/tiny-GGUF:q8_0", filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf")},
		{"acme/tiny-GGUF", filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q4_K_M.gguf")}, // the default quantization
		{"acme/tiny-GGUF/tiny.Q8_0.gguf", filepath.Join(s.Dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf")},
		{"Qwen/Qwen3-0.6B-GGUF", filepath.Join(s.HFCache, "models--Qwen--Qwen3-0.6B-GGUF", "snapshots", "bbbb", "Qwen3-0.6B-Q8_0.gguf")},
		{"llama3.2:1b", filepath.Join(s.Ollama, "blobs", "sha256-feedface")},
		{"mine", filepath.Join(root, "models", "mine.gguf")},
		{"other.gguf", filepath.Join(root, "models", "sub", "other.gguf")},
		{filepath.Join(root, "models", "mine.gguf"), filepath.Join(root, "models", "mine.gguf")},
	} {
		m, err := s.Find(c.arg)
		if err != nil || m.Path != c.path {
			t.Errorf("Find(%q) = %s, %v; want %s", c.arg, m.Path, err, c.path)
		}
	}
	for _, c := range []struct{ arg, want string }{
		{"nosuch", "not among the 11 models found"},
		{"acme/tiny-GGUF:Q2_K", "not among"},
		{"gone:latest", "missing"},
		{"./nosuch.gguf", "no such file"},
	} {
		if _, err := s.Find(c.arg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Find(%q): %v, want %q", c.arg, err, c.want)
		}
	}
}

func TestRemove(t *testing.T) {
	root := t.TempDir()
	s := fixtures(t, root)
	if _, err := s.Remove("llama3.2:1b"); err == nil || !strings.Contains(err.Error(), "but in ollama's models") {
		t.Fatalf("removing ollama's model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Ollama, "blobs", "sha256-feedface")); err != nil {
		t.Fatal("ollama's blob is gone")
	}
	m, err := s.Remove("acme/tiny-GGUF:Q4_K_M")
	if err != nil || m.Source != SourceShimmer {
		t.Fatalf("remove: %+v %v", m, err)
	}
	if _, err := os.Stat(m.Path); !os.IsNotExist(err) {
		t.Fatalf("file still there: %v", err)
	}
	if _, err := s.Find("acme/tiny-GGUF:Q8_0"); err != nil {
		t.Fatalf("the other quantization went too: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hf.co/acme/tiny-GGUF", "acme/tiny-GGUF"},
		{"acme/tiny-GGUF:q4_k_m", "acme/tiny-GGUF:Q4_K_M"},
		{"https://huggingface.co/acme/tiny-GGUF/sub/x.gguf", "acme/tiny-GGUF/sub/x.gguf"},
		{"acme/tiny-GGUF@v2:Q8_0", "acme/tiny-GGUF@v2:Q8_0"},
	} {
		r, err := ParseRef(c.in)
		if err != nil || r.String() != c.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", c.in, r, err, c.want)
		}
	}
	for _, in := range []string{"tiny", "acme/", "acme/x/../y.gguf", "acme/x/y.bin", "a/b:", "../x/y"} {
		if _, err := ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) accepted", in)
		}
	}
}

func TestQuantOf(t *testing.T) {
	for in, want := range map[string]string{
		"tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf":         "Q4_K_M",
		"Qwen3-30B-A3B-UD-Q4_K_XL-00001-of-00002.gguf": "UD-Q4_K_XL",
		"gemma-3-1b-it-IQ4_XS.gguf":                    "IQ4_XS",
		"model-bf16.gguf":                              "BF16",
		"gpt-oss-20b-MXFP4.gguf":                       "MXFP4",
		"Q8_0/model-Q8_0.gguf":                         "Q8_0",
		"mistral-7b-instruct.gguf":                     "",
		"phi-4-q8_0.gguf":                              "Q8_0",
	} {
		if got := QuantOf(in); got != want {
			t.Errorf("QuantOf(%q) = %q, want %q", in, got, want)
		}
	}
}
