package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// bench prints llama-bench's tests as markdown or JSON.
func TestBenchCommand(t *testing.T) {
	m := testdata.Path(t, "models", "stories260K-Q4_0.gguf")
	out, errs, code := shimmer(t, "", "bench", "-m", m, "-p", "16", "-n", "4", "-r", "2", "-t", "2", "--parallel", "3", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res []struct {
		Test string  `json:"test"`
		TS   float64 `json:"tokens_per_second"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res) != 3 || res[0].Test != "pp16" || res[1].Test != "tg4" || res[2].Test != "tg4x3" {
		t.Fatalf("tests %+v", res)
	}
	for _, r := range res {
		if !(r.TS > 0) {
			t.Fatalf("%s: %g tokens/s", r.Test, r.TS)
		}
	}
	// -d: the tests start from a context already holding that many tokens.
	out, errs, code = shimmer(t, "", "bench", "-m", m, "-p", "8", "-n", "2", "-d", "40", "-r", "1", "--parallel", "2", "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || len(res) != 3 || res[0].Test != "pp8@d40" || res[1].Test != "tg2@d40" || res[2].Test != "tg2x2@d40" {
		t.Fatalf("-d: exit %d %v: %s %s", code, err, out, errs)
	}
	out, errs, code = shimmer(t, "", "bench", "-m", m, "-p", "8", "-n", "0", "-r", "1")
	if code != 0 || !strings.Contains(out, "| pp8 |") || strings.Contains(out, "tg") {
		t.Fatalf("markdown: exit %d: %s%s", code, out, errs)
	}
	if _, errs, code = shimmer(t, "", "bench", "-m", m, "-o", "xml"); code == 0 || !strings.Contains(errs, "xml") {
		t.Fatalf("bad format accepted: %d %s", code, errs)
	}
}
