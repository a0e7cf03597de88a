package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// shimmer grammar gives llama.cpp's verdicts on every case of its grammar
// tests (grammar/cases.json): true for each pass string, false for each
// fail string, and exit 1 with one line for each invalid grammar.
func TestGrammarCommand(t *testing.T) {
	b, err := os.ReadFile(testdata.Path(t, "grammar", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Kind, Source string
		Pass, Fail         []string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, c := range cases {
		file := filepath.Join(dir, "g")
		os.WriteFile(file, []byte(c.Source), 0o644)
		flag := "--gbnf"
		if c.Kind == "schema" {
			flag = "--schema"
		}
		var in strings.Builder
		var want []string
		for _, s := range c.Pass {
			j, _ := json.Marshal(s)
			in.Write(append(j, '\n'))
			want = append(want, "true")
		}
		for _, s := range c.Fail {
			j, _ := json.Marshal(s)
			in.Write(append(j, '\n'))
			want = append(want, "false")
		}
		out, errs, code := shimmer(t, in.String(), "grammar", flag, file)
		if c.Kind == "grammar-invalid" {
			if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "grammar:") || out != "" {
				t.Errorf("case %d (invalid): exit %d, stdout %q, stderr %q", i, code, out, errs)
			}
			continue
		}
		if code != 0 || strings.Join(want, "\n")+"\n" != out {
			t.Errorf("case %d %q: exit %d, stderr %q\n got %q\nwant %q", i, c.Name, code, errs, out, strings.Join(want, "\n"))
		}
	}
	if _, errs, code := shimmer(t, "", "grammar"); code == 0 || !strings.Contains(errs, "--gbnf") {
		t.Errorf("no grammar: exit %d, %q", code, errs)
	}
}

// shimmer run --json-schema, --grammar-file and -j constrain the output:
// it is a sentence of the grammar, the generation ends with it.
func TestRunConstrained(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "s.json")
	os.WriteFile(schema, []byte(`{"type":"object","properties":{"name":{"type":"string","maxLength":10},"ok":{"type":"boolean"}},"required":["name","ok"]}`), 0o644)
	gbnf := filepath.Join(dir, "g.gbnf")
	os.WriteFile(gbnf, []byte(`root ::= ("yes" | "no") "."`), 0o644)
	model := testdata.Path(t, "models", "stories260K.gguf")
	for _, c := range []struct {
		args  []string
		check func(string) bool
	}{
		{[]string{"--json-schema", schema, "--temp", "0"}, func(s string) bool {
			var v struct {
				Name *string
				Ok   *bool
			}
			return json.Unmarshal([]byte(s), &v) == nil && v.Name != nil && v.Ok != nil
		}},
		{[]string{"--grammar-file", gbnf, "--seed", "4"}, func(s string) bool { return s == "yes." || s == "no." }},
		{[]string{"-j", "--seed", "5", "-n", "400"}, func(s string) bool { return json.Valid([]byte(s)) }},
	} {
		out, errs, code := shimmer(t, "", append(append([]string{"run", "-m", model}, c.args...), "Once upon a time")...)
		if code != 0 || !c.check(out) || !strings.Contains(errs, "stop:       eog") {
			t.Errorf("%v: exit %d, output %q, stderr %q", c.args, code, out, errs)
		}
	}
	if _, errs, code := shimmer(t, "", "run", "-m", model, "-j", "--grammar-file", gbnf, "x"); code == 0 || !strings.Contains(errs, "one of") {
		t.Errorf("two constraints: exit %d, %q", code, errs)
	}
}
