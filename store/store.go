// Package store owns model names and paths: shimmer's own model store,
// the places other tools keep GGUF files (the Hugging Face hub cache, LM
// Studio, ollama, ./models), resolving a name such as ORG/REPO:Q4_K_M to
// a file, and pulling models from Hugging Face with resumed, verified
// downloads. The engine takes a path and knows nothing of this.
//
//	s := store.Default()
//	m, err := s.Find("TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M")
//	e, err := engine.Load(m.Path, engine.Options{})
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quantize"
)

// Source kinds: where a model was found.
const (
	SourceShimmer     = "shimmer"     // shimmer's own store (pulled)
	SourceDir         = "dir"         // ./models or a directory given
	SourceHuggingFace = "huggingface" // the Hugging Face hub cache
	SourceLMStudio    = "lmstudio"    // LM Studio's models directory
	SourceOllama      = "ollama"      // ollama's manifests and blobs
	SourceFile        = "file"        // a path given directly
)

// sourceNames describe the sources in messages.
var sourceNames = map[string]string{
	SourceDir: "a models directory", SourceHuggingFace: "the Hugging Face cache", SourceLMStudio: "LM Studio's models",
	SourceOllama: "ollama's models", SourceFile: "a file given", SourceShimmer: "shimmer's store",
}

// Model is one model found on disk.
type Model struct {
	// Name addresses the model: ORG/REPO:QUANT (or ORG/REPO/FILE.gguf
	// when the repository holds several files of one quantization) for
	// Hugging Face files wherever they are kept, NAME:TAG for ollama's,
	// the path below the directory without .gguf for ./models.
	Name string
	// Path is the file to load (a split model's first part).
	Path string
	// Files are all the files of the model (the parts of a split one).
	Files []string
	// Size is the bytes of all its files.
	Size int64
	// Source is where it was found (SourceShimmer, …).
	Source string
	// Repo is the Hugging Face repository it came from ("" if unknown).
	Repo string
	// Quant is the quantization, from the file name or general.file_type.
	Quant string
	// Arch is general.architecture, Params the parameter count, Kind
	// general.type ("model" or "adapter"); Err says why the file could
	// not be read (then the others are empty).
	Arch   string
	Params uint64
	Kind   string
	Err    error
}

// Store finds models. Its zero value finds nothing; Default reads the
// environment.
type Store struct {
	// Dir is shimmer's own store: pulls go there, rm removes from there.
	// Layout: DIR/ORG/REPO/FILE.gguf.
	Dir string
	// HFCache is the Hugging Face hub cache (models--ORG--REPO/…).
	HFCache string
	// LMStudio are LM Studio's model directories (PUBLISHER/REPO/FILE.gguf).
	LMStudio []string
	// Ollama is ollama's models directory (manifests/ and blobs/).
	Ollama string
	// Dirs are plain directories of GGUF files (./models).
	Dirs []string
}

// Default returns the store the environment describes: $SHIMMER_MODELS
// (default: shimmer/models under the user's cache directory),
// $HF_HUB_CACHE (or $HF_HOME/hub, or ~/.cache/huggingface/hub), LM
// Studio's ~/.lmstudio/models and ~/.cache/lm-studio/models,
// $OLLAMA_MODELS (or ~/.ollama/models), and ./models.
func Default() *Store {
	home, _ := os.UserHomeDir()
	s := &Store{Dir: os.Getenv("SHIMMER_MODELS")}
	if s.Dir == "" {
		if c, err := os.UserCacheDir(); err == nil {
			s.Dir = filepath.Join(c, "shimmer", "models")
		}
	}
	s.HFCache = os.Getenv("HF_HUB_CACHE")
	if s.HFCache == "" {
		if h := os.Getenv("HF_HOME"); h != "" {
			s.HFCache = filepath.Join(h, "hub")
		} else if home != "" {
			s.HFCache = filepath.Join(home, ".cache", "huggingface", "hub")
		}
	}
	s.Ollama = os.Getenv("OLLAMA_MODELS")
	if home != "" {
		s.LMStudio = []string{filepath.Join(home, ".lmstudio", "models"), filepath.Join(home, ".cache", "lm-studio", "models")}
		if s.Ollama == "" {
			s.Ollama = filepath.Join(home, ".ollama", "models")
		}
	}
	s.Dirs = []string{"models"}
	return s
}

// OnlyDir returns a store that finds the models in dir alone (serve
// --models-dir).
func OnlyDir(dir string) *Store { return &Store{Dirs: []string{dir}} }

// List returns the models found, sorted by name. A name found in two
// places is listed once, from the first of: shimmer's store, the plain
// directories, the Hugging Face cache, LM Studio, ollama. Places that do
// not exist are skipped; files that cannot be read are listed with Err.
func (s *Store) List() ([]Model, error) {
	var all []Model
	if s.Dir != "" {
		all = append(all, scanRepoTree(s.Dir, SourceShimmer)...)
	}
	for _, d := range s.Dirs {
		all = append(all, scanDir(d)...)
	}
	if s.HFCache != "" {
		all = append(all, scanHFCache(s.HFCache)...)
	}
	for _, d := range s.LMStudio {
		all = append(all, scanRepoTree(d, SourceLMStudio)...)
	}
	if s.Ollama != "" {
		all = append(all, scanOllama(s.Ollama)...)
	}
	seen := map[string]bool{}
	var out []Model
	for _, m := range all {
		k := strings.ToLower(m.Name)
		if seen[k] {
			continue
		}
		seen[k] = true
		if m.Err == nil {
			describe(&m)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrNotFound is returned (wrapped) when no model has the name asked for.
var ErrNotFound = errors.New("no such model")

// Find returns the model an argument names: a path to a GGUF file, or a
// name as List gives it, or ORG/REPO (hf.co/ optional) whose default
// quantization (Q4_K_M, else …, else the smallest) was found, or a file's
// base name (without .gguf) when only one file has it.
func (s *Store) Find(arg string) (Model, error) {
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		m := Model{Name: strings.TrimSuffix(filepath.Base(arg), ".gguf"), Path: arg, Files: []string{arg}, Size: st.Size(), Source: SourceFile}
		return m, nil
	}
	ms, err := s.List()
	if err != nil {
		return Model{}, err
	}
	m, ok := match(ms, arg)
	if !ok {
		if looksLikePath(arg) {
			_, err := os.Stat(arg)
			return Model{}, fmt.Errorf("store: %w", err)
		}
		return Model{}, fmt.Errorf("store: %w named %q: not a file, and not among the %d models found (shimmer list shows them; shimmer pull ORG/REPO[:QUANT] fetches one from Hugging Face)", ErrNotFound, arg, len(ms))
	}
	if m.Err != nil {
		return Model{}, fmt.Errorf("store: model %s (%s): %w", m.Name, m.Path, m.Err)
	}
	return m, nil
}

// looksLikePath reports whether arg is meant as a file path rather than a
// name: absolute, relative from . or .., or a .gguf with no ORG/REPO/ form.
func looksLikePath(arg string) bool {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") {
		return true
	}
	if _, err := ParseRef(arg); err == nil {
		return false
	}
	return strings.HasSuffix(strings.ToLower(arg), ".gguf")
}

// match picks the model arg names among ms.
func match(ms []Model, arg string) (Model, bool) {
	for _, m := range ms {
		if strings.EqualFold(m.Name, arg) {
			return m, true
		}
	}
	if r, err := ParseRef(arg); err == nil {
		var in []Model
		for _, m := range ms {
			if strings.EqualFold(m.Repo, r.Repo) {
				in = append(in, m)
			}
		}
		switch {
		case r.File != "":
			for _, m := range in {
				if strings.EqualFold(filepath.Base(m.Path), filepath.Base(r.File)) || strings.EqualFold(filepath.Base(splitFirst(m.Path)), filepath.Base(r.File)) {
					return m, true
				}
			}
		case r.Quant != "":
			for _, m := range in {
				if m.Quant == r.Quant {
					return m, true
				}
			}
		case len(in) > 0:
			return pickDefault(in), true
		}
	}
	var byBase []Model
	for _, m := range ms {
		if strings.EqualFold(strings.TrimSuffix(filepath.Base(m.Path), ".gguf"), strings.TrimSuffix(arg, ".gguf")) {
			byBase = append(byBase, m)
		}
	}
	if len(byBase) == 1 {
		return byBase[0], true
	}
	return Model{}, false
}

// pickDefault picks the model a reference without a quantization means:
// the first of defaultQuants present, else the smallest.
func pickDefault(ms []Model) Model {
	for _, q := range defaultQuants {
		for _, m := range ms {
			if m.Quant == q {
				return m
			}
		}
	}
	best := ms[0]
	for _, m := range ms[1:] {
		if m.Size < best.Size {
			best = m
		}
	}
	return best
}

// Remove deletes a model from shimmer's own store (never from the places
// other tools keep theirs) and returns what it removed.
func (s *Store) Remove(name string) (Model, error) {
	ms, err := s.List()
	if err != nil {
		return Model{}, err
	}
	m, ok := match(ms, name)
	if !ok {
		return Model{}, fmt.Errorf("store: %w named %q", ErrNotFound, name)
	}
	if m.Source != SourceShimmer {
		return Model{}, fmt.Errorf("store: %s is not in shimmer's store %s but in %s (%s); shimmer removes only what it pulled", m.Name, s.Dir, sourceNames[m.Source], m.Path)
	}
	for _, f := range m.Files {
		if err := os.Remove(f); err != nil {
			return Model{}, fmt.Errorf("store: %w", err)
		}
	}
	// Drop directories left empty, up to the store itself.
	for d := filepath.Dir(m.Path); d != filepath.Clean(s.Dir) && strings.HasPrefix(d, filepath.Clean(s.Dir)); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return m, nil
}

// describe fills in what the file's header says (of every part: opening a
// split model's first part opens them all).
func describe(m *Model) {
	f, err := gguf.Open(m.Path)
	if err != nil {
		m.Err = err
		return
	}
	defer f.Close()
	m.Arch, _ = f.GetString("general.architecture", "")
	m.Kind, _ = f.GetString("general.type", "model")
	for _, t := range f.Tensors {
		m.Params += t.Elements()
	}
	if m.Quant == "" {
		if ft, err := f.GetInt("general.file_type", -1); err == nil && ft >= 0 {
			if s := quantize.FileType(ft).String(); !strings.Contains(s, "(") {
				m.Quant = s
			}
		}
	}
}
