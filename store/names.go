package store

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// quantRE finds a quantization name in a GGUF file name, as the converters
// and llama-quantize spell them (Q4_K_M, IQ4_XS, Q8_0, F16, BF16,
// MXFP4_MOE, TQ1_0, …), delimited by '-', '.', '_' or the ends.
var quantRE = regexp.MustCompile(`(?i)(?:^|[-._])((?:UD-)?(?:IQ[1-4]_(?:XXS|XS|S|M|NL|K)|I?Q[1-8]_K(?:_(?:XL|S|M|L))?|Q[1-8]_[01]|TQ[12]_0|MXFP4(?:_MOE)?|BF16|F16|F32))(?:$|[-._])`)

// splitRE matches the part suffix llama.cpp's gguf-split writes.
var splitRE = regexp.MustCompile(`-(\d{5})-of-(\d{5})\.gguf$`)

// QuantOf returns the quantization named in a GGUF file name ("Q4_K_M" for
// "tinyllama-1.1b-chat.Q4_K_M.gguf"), in upper case, or "" if it names
// none. The last one named wins.
func QuantOf(file string) string {
	base := strings.TrimSuffix(splitRE.ReplaceAllString(path.Base(file), ".gguf"), ".gguf")
	var q string
	for rest := base; ; {
		loc := quantRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			break
		}
		q = rest[loc[2]:loc[3]]
		rest = rest[loc[3]:]
	}
	return strings.ToUpper(q)
}

// splitPart reports the part number and count of a split GGUF file
// ("m-00002-of-00003.gguf": 2, 3); a whole file is part 1 of 1.
func splitPart(file string) (part, count int) {
	m := splitRE.FindStringSubmatch(file)
	if m == nil {
		return 1, 1
	}
	part, _ = strconv.Atoi(m[1])
	count, _ = strconv.Atoi(m[2])
	return part, count
}

// splitFirst returns the name of a split file's first part.
func splitFirst(file string) string {
	m := splitRE.FindStringSubmatchIndex(file)
	if m == nil {
		return file
	}
	return file[:m[0]] + fmt.Sprintf("-00001-of-%s.gguf", file[m[4]:m[5]])
}

// Ref is a parsed reference to a model on Hugging Face: hf.co/ORG/REPO,
// ORG/REPO:QUANT or ORG/REPO/FILE.gguf (ORG/REPO@REVISION… picks a
// revision other than main).
type Ref struct {
	Repo     string // ORG/REPO
	Revision string // default "main"
	Quant    string // the quantization asked for, upper case, or ""
	File     string // the file asked for (path inside the repository), or ""
}

func (r Ref) String() string {
	s := r.Repo
	if r.Revision != "main" {
		s += "@" + r.Revision
	}
	switch {
	case r.File != "":
		s += "/" + r.File
	case r.Quant != "":
		s += ":" + r.Quant
	}
	return s
}

var repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseRef parses a Hugging Face model reference; the hf.co/,
// huggingface.co/ and https://huggingface.co/ prefixes are optional.
func ParseRef(s string) (Ref, error) {
	orig := s
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	for _, p := range []string{"hf.co/", "huggingface.co/"} {
		s = strings.TrimPrefix(s, p)
	}
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("store: %q is not a model reference (%s); want ORG/REPO, ORG/REPO:QUANT or ORG/REPO/FILE.gguf", orig, why)
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return bad("no ORG/")
	}
	r := Ref{Revision: "main"}
	repo := parts[1]
	if i := strings.LastIndexByte(repo, ':'); i >= 0 && len(parts) == 2 {
		r.Quant = strings.ToUpper(repo[i+1:])
		repo = repo[:i]
		if r.Quant == "" {
			return bad("empty quantization after ':'")
		}
	}
	if i := strings.IndexByte(repo, '@'); i >= 0 {
		r.Revision = repo[i+1:]
		repo = repo[:i]
		if r.Revision == "" || strings.ContainsAny(r.Revision, "?#") {
			return bad("bad revision")
		}
	}
	if !repoPart.MatchString(parts[0]) || !repoPart.MatchString(repo) || strings.Contains(parts[0]+repo, "..") {
		return bad("bad organisation or repository name")
	}
	r.Repo = parts[0] + "/" + repo
	if len(parts) > 2 {
		r.File = strings.Join(parts[2:], "/")
		if !strings.HasSuffix(strings.ToLower(r.File), ".gguf") {
			return bad("a file must end in .gguf")
		}
		for _, p := range parts[2:] {
			if p == "" || p == "." || p == ".." {
				return bad("bad file path")
			}
		}
	}
	return r, nil
}

// LooksLikeRef reports whether a -m argument names a Hugging Face model
// to pull rather than a file or a discovered name: hf.co/… or
// huggingface.co/….
func LooksLikeRef(s string) bool {
	for _, p := range []string{"hf.co/", "huggingface.co/", "https://huggingface.co/"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// defaultQuants are tried in order when a reference names no quantization:
// the usual best size/quality trade-off first, as ollama and llama-server
// pick.
var defaultQuants = []string{"Q4_K_M", "Q4_K_S", "Q4_0", "Q5_K_M", "Q8_0"}
