package store

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// found is one GGUF file seen by a scan: rel is its path below the
// repository (or directory), with '/' separators.
type found struct {
	path, rel string
	size      int64
}

// ggufFiles walks dir for .gguf files (following the symlinks the
// Hugging Face cache uses for files, not for directories), skipping
// multimodal projectors; rel paths are relative to dir.
func ggufFiles(dir string) []found {
	var out []found
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // an unreadable subdirectory: skip it
		}
		if d.IsDir() || !strings.HasSuffix(strings.ToLower(d.Name()), ".gguf") || strings.HasPrefix(strings.ToLower(d.Name()), "mmproj") {
			return nil
		}
		st, err := os.Stat(p) // follows a symlink; a dangling one is skipped
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, found{path: p, rel: filepath.ToSlash(rel), size: st.Size()})
		return nil
	})
	return out
}

// group joins split parts into models. named gives a model's name from its
// first part's rel path and quantization, given whether that quantization
// is the only model of it in the group.
func group(files []found, source, repo string, named func(rel, quant string, unique bool) string) []Model {
	byFirst := map[string][]found{}
	var firsts []string
	for _, f := range files {
		k := splitFirst(f.rel)
		if _, ok := byFirst[k]; !ok {
			firsts = append(firsts, k)
		}
		byFirst[k] = append(byFirst[k], f)
	}
	sort.Strings(firsts)
	quants := map[string]int{}
	for _, k := range firsts {
		quants[QuantOf(k)]++
	}
	var out []Model
	for _, k := range firsts {
		parts := byFirst[k]
		sort.Slice(parts, func(i, j int) bool { return parts[i].rel < parts[j].rel })
		q := QuantOf(k)
		m := Model{Source: source, Repo: repo, Quant: q, Name: named(k, q, q != "" && quants[q] == 1)}
		_, count := splitPart(parts[0].rel)
		if p, _ := splitPart(parts[0].rel); p != 1 || len(parts) != count {
			m.Err = fmt.Errorf("split model has %d of its %d parts", len(parts), count)
		}
		for i, p := range parts {
			if i == 0 {
				m.Path = p.path
			}
			m.Files = append(m.Files, p.path)
			m.Size += p.size
		}
		out = append(out, m)
	}
	return out
}

// repoName names a model of a Hugging Face repository: ORG/REPO:QUANT when
// the quantization picks one file, else ORG/REPO/FILE.gguf.
func repoName(repo string) func(rel, quant string, unique bool) string {
	return func(rel, quant string, unique bool) string {
		if unique {
			return repo + ":" + quant
		}
		return repo + "/" + rel
	}
}

// scanRepoTree reads a directory laid out ORG/REPO/…/FILE.gguf (shimmer's
// store, LM Studio's).
func scanRepoTree(root, source string) []Model {
	var out []Model
	orgs, _ := os.ReadDir(root)
	for _, o := range orgs {
		if !o.IsDir() || strings.HasPrefix(o.Name(), ".") {
			continue
		}
		repos, _ := os.ReadDir(filepath.Join(root, o.Name()))
		for _, r := range repos {
			if !r.IsDir() || strings.HasPrefix(r.Name(), ".") {
				continue
			}
			repo := o.Name() + "/" + r.Name()
			out = append(out, group(ggufFiles(filepath.Join(root, o.Name(), r.Name())), source, repo, repoName(repo))...)
		}
	}
	return out
}

// scanDir reads a plain directory of GGUF files: a model's name is its path
// below the directory without .gguf.
func scanDir(dir string) []Model {
	return group(ggufFiles(dir), SourceDir, "", func(rel, _ string, _ bool) string {
		return strings.TrimSuffix(splitRE.ReplaceAllString(rel, ".gguf"), ".gguf")
	})
}

// scanHFCache reads the Hugging Face hub cache:
// models--ORG--REPO/snapshots/REVISION/FILE, each file a symlink to
// ../../blobs/HASH. A file in several snapshots is taken from the one
// refs/main names, else from the newest.
func scanHFCache(hub string) []Model {
	var out []Model
	dirs, _ := os.ReadDir(hub)
	for _, d := range dirs {
		org, name, ok := strings.Cut(strings.TrimPrefix(d.Name(), "models--"), "--")
		if !d.IsDir() || !strings.HasPrefix(d.Name(), "models--") || !ok {
			continue
		}
		repo := org + "/" + name
		snaps, _ := os.ReadDir(filepath.Join(hub, d.Name(), "snapshots"))
		type snap struct {
			path string
			mod  int64
		}
		var ss []snap
		for _, s := range snaps {
			if info, err := s.Info(); err == nil && s.IsDir() {
				ss = append(ss, snap{filepath.Join(hub, d.Name(), "snapshots", s.Name()), info.ModTime().UnixNano()})
			}
		}
		// The snapshot refs/main points at first, then the newest.
		main, _ := os.ReadFile(filepath.Join(hub, d.Name(), "refs", "main"))
		cur := filepath.Join(hub, d.Name(), "snapshots", strings.TrimSpace(string(main)))
		sort.Slice(ss, func(i, j int) bool {
			if (ss[i].path == cur) != (ss[j].path == cur) {
				return ss[i].path == cur
			}
			return ss[i].mod > ss[j].mod
		})
		seen := map[string]bool{}
		var files []found
		for _, s := range ss {
			for _, f := range ggufFiles(s.path) {
				if !seen[f.rel] {
					seen[f.rel] = true
					files = append(files, f)
				}
			}
		}
		out = append(out, group(files, SourceHuggingFace, repo, repoName(repo))...)
	}
	return out
}

// ollamaManifest is the part of an ollama manifest that locates the
// weights.
type ollamaManifest struct {
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"layers"`
}

// ollamaModelLayer is the media type of the GGUF layer.
const ollamaModelLayer = "application/vnd.ollama.image.model"

// scanOllama reads ollama's store: manifests/HOST/NAMESPACE/MODEL/TAG (JSON)
// whose model layer is blobs/sha256-HEX. A model of the default registry's
// library is named MODEL:TAG, of another namespace NAMESPACE/MODEL:TAG, of
// another host HOST/NAMESPACE/MODEL:TAG (hf.co/ORG/REPO:QUANT for the
// ones ollama pulled from Hugging Face).
func scanOllama(root string) []Model {
	var out []Model
	mroot := filepath.Join(root, "manifests")
	filepath.WalkDir(mroot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(mroot, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 {
			return nil
		}
		host, ns, name, tag := parts[0], parts[1], parts[2], parts[3]
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 1<<20 {
			return nil
		}
		var man ollamaManifest
		if json.Unmarshal(b, &man) != nil {
			return nil
		}
		full := host + "/" + ns + "/" + name + ":" + tag
		switch {
		case host == "registry.ollama.ai" && ns == "library":
			full = name + ":" + tag
		case host == "registry.ollama.ai":
			full = ns + "/" + name + ":" + tag
		}
		m := Model{Name: full, Source: SourceOllama}
		if host == "hf.co" || host == "huggingface.co" {
			m.Repo = ns + "/" + name
			m.Quant = strings.ToUpper(tag)
		}
		for _, l := range man.Layers {
			if l.MediaType != ollamaModelLayer {
				continue
			}
			hex, ok := strings.CutPrefix(l.Digest, "sha256:")
			if !ok || strings.ContainsAny(hex, `/\.`) {
				continue
			}
			m.Path = filepath.Join(root, "blobs", "sha256-"+hex)
			m.Files = []string{m.Path}
			st, err := os.Stat(m.Path)
			if err != nil {
				m.Err = fmt.Errorf("manifest %s: model layer %s is missing", rel, l.Digest)
			} else {
				m.Size = st.Size()
			}
			out = append(out, m)
			break
		}
		return nil
	})
	return out
}
