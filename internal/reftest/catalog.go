package reftest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// Pending names the reference models that shimmer does not run yet, each
// with the issue that adds it. Their tests check that loading them fails
// with a clear error instead of comparing logits; an entry is removed when
// its issue lands.
var Pending = map[string]string{}

// PendingIssue returns the issue that adds the model, if it is pending.
func PendingIssue(name string) (string, bool) {
	for fam, issue := range Pending {
		if Family(name) == fam {
			return issue, true
		}
	}
	return "", false
}

// Family strips a weight-type suffix (-F16, -Q4_K_M, -IQ4_XS-pure, …)
// from a model name: tiny-llama3-F16 → tiny-llama3.
func Family(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	suf := strings.TrimSuffix(name[i+1:], "-pure")
	if strings.HasSuffix(name, "-pure") {
		j := strings.LastIndexByte(name[:i], '-')
		if j >= 0 {
			i, suf = j, name[j+1:len(name)-len("-pure")]
		}
	}
	for _, p := range []string{"F16", "BF16", "F32", "Q", "IQ", "TQ", "MXFP4"} {
		if strings.HasPrefix(suf, p) && (p != "Q" || len(suf) > 1 && suf[1] >= '0' && suf[1] <= '9') {
			return name[:i]
		}
	}
	return name
}

// Case is one reference case: reference/<Model>.<Case>.json.
type Case struct{ Model, Case string }

// Name is the reference file stem, <model>.<case>.
func (c Case) Name() string { return c.Model + "." + c.Case }

// Cases lists every reference case of the models whose family is one of
// fams (all models when fams is empty), sorted; -deqf32 cases only when
// deq is set.
func Cases(tb testing.TB, deq bool, fams ...string) []Case {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(testdata.Path(tb, "reference"), "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no reference cases in %s", testdata.Path(tb, "reference"))
	}
	var out []Case
	for _, p := range paths {
		stem := strings.TrimSuffix(filepath.Base(p), ".json")
		m, c, ok := strings.Cut(stem, ".")
		if !ok || strings.HasSuffix(c, "-deqf32") && !deq {
			continue
		}
		if len(fams) > 0 && !contains(fams, Family(m)) {
			continue
		}
		out = append(out, Case{m, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// ModelsOf lists the models (names without .gguf) of the given families
// that have a file in models/ and an ids reference case.
func ModelsOf(tb testing.TB, fams ...string) []string {
	tb.Helper()
	var out []string
	for _, c := range Cases(tb, false, fams...) {
		if c.Case != "ids" {
			continue
		}
		if _, err := os.Stat(testdata.Path(tb, "models", c.Model+".gguf")); err == nil {
			out = append(out, c.Model)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
