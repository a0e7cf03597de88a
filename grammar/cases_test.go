package grammar

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// grammarCase is one of llama.cpp's grammar integration tests
// (grammar/cases.json in the reference data).
type grammarCase struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"` // grammar, schema or grammar-invalid
	Source string   `json:"source"`
	Pass   []string `json:"pass"`
	Fail   []string `json:"fail"`
	Why    string   `json:"why"`
}

func loadCases(t *testing.T) []grammarCase {
	t.Helper()
	b, err := os.ReadFile(testdata.Path(t, "grammar", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []grammarCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// Every GBNF case of llama.cpp's grammar tests: the strings it accepts
// are accepted in full, the ones it refuses are refused, and the invalid
// grammars are refused with an error saying why.
func TestLlamaCppGrammarCases(t *testing.T) {
	var n, strs int
	for _, c := range loadCases(t) {
		switch c.Kind {
		case "grammar", "schema":
			var g *Grammar
			var err error
			if c.Kind == "schema" {
				g, err = FromSchema([]byte(c.Source))
			} else {
				g, err = Compile(c.Source)
			}
			if err != nil {
				t.Errorf("%s: %v", c.Name, err)
				continue
			}
			for _, s := range c.Pass {
				if !g.Match(s) {
					t.Errorf("%s: refuses %q", c.Name, s)
				}
			}
			for _, s := range c.Fail {
				if g.Match(s) {
					t.Errorf("%s: accepts %q", c.Name, s)
				}
			}
			n++
			strs += len(c.Pass) + len(c.Fail)
		case "grammar-invalid":
			_, err := Compile(c.Source)
			if err == nil {
				t.Errorf("invalid grammar %q (%s) compiles", c.Source, c.Why)
				continue
			}
			want := map[string]string{"no rule named root": "no rule named root", "left recursion": "left recursion"}
			ok := strings.Contains(err.Error(), "not defined") && strings.Contains(c.Why, "not defined")
			for k, v := range want {
				if strings.Contains(c.Why, k) && strings.Contains(err.Error(), v) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("invalid grammar (%s): error %q does not say so", c.Why, err)
			}
			t.Logf("refused (%s): %v", c.Why, err)
			n++
		}
	}
	t.Logf("%d grammars, %d strings", n, strs)
}
