package grammar

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Integer and number bounds against arithmetic: for random bounds and
// random numbers written as JSON does, the grammar accepts exactly the
// numbers within the bounds.
func TestNumericBoundsAgainstArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 60; trial++ {
		lo := r.Int64N(3000) - 1500
		hi := lo + r.Int64N(4000)
		kind := []string{"minimum", "exclusiveMinimum"}[r.IntN(2)]
		kindHi := []string{"maximum", "exclusiveMaximum"}[r.IntN(2)]
		schema := fmt.Sprintf(`{"type":"integer","%s":%d,"%s":%d}`, kind, lo, kindHi, hi)
		g, err := FromSchema([]byte(schema))
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		in := func(x float64) bool {
			ok := x >= float64(lo)
			if kind == "exclusiveMinimum" {
				ok = x > float64(lo)
			}
			if kindHi == "maximum" {
				return ok && x <= float64(hi)
			}
			return ok && x < float64(hi)
		}
		for i := 0; i < 300; i++ {
			x := lo - 50 + r.Int64N(hi-lo+100)
			s := strconv.FormatInt(x, 10)
			if got := g.Match(s); got != in(float64(x)) {
				t.Fatalf("%s: %s accepted %v", schema, s, got)
			}
		}
		if g.Match("1.5") || g.Match("-0") || g.Match("01") {
			t.Fatalf("%s accepts a non-integer text", schema)
		}
		// Numbers with non-negative integer bounds.
		nlo, nhi := r.Int64N(500), r.Int64N(500)+500
		schema = fmt.Sprintf(`{"type":"number","%s":%d,"%s":%d}`, kind, nlo, kindHi, nhi)
		if g, err = FromSchema([]byte(schema)); err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		lo, hi = nlo, nhi
		for i := 0; i < 300; i++ {
			x := float64(nlo-20+r.Int64N(nhi-nlo+40)) + []float64{0, 0.5, 0.25, 0.001}[r.IntN(4)]
			s := strconv.FormatFloat(x, 'f', -1, 64)
			if got := g.Match(s); got != in(x) {
				t.Fatalf("%s: %s accepted %v", schema, s, got)
			}
		}
		for _, s := range []string{fmt.Sprintf("%d.0", nlo), fmt.Sprintf("%d.000", nhi)} {
			x, _ := strconv.ParseFloat(s, 64)
			if got := g.Match(s); got != in(x) {
				t.Fatalf("%s: %s accepted %v", schema, s, got)
			}
		}
	}
	g, _ := FromSchema([]byte(`{"type":"number","exclusiveMinimum":0}`))
	for s, want := range map[string]bool{"0": false, "0.0": false, "0.001": true, "3": true, "-1": false, "12.5": true} {
		if g.Match(s) != want {
			t.Errorf("positive number: %s → %v", s, !want)
		}
	}
}

// Structures, references, formats and errors, against what JSON Schema
// says the values are.
func TestSchemas(t *testing.T) {
	cases := []struct {
		schema     string
		pass, fail []string
	}{
		{`{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/node"}`,
			[]string{`{"v": 1, "next": null}`, `{"v": 1, "next": {"v": 2, "next": null}}`}, []string{`{"v": 1}`, `{"v": "1", "next": null}`}},
		{`{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}]}`, []string{`["a", true]`}, []string{`["a"]`, `[true, "a"]`}},
		{`{"oneOf":[{"type":"string","maxLength":2},{"type":"integer","minimum":10}]}`, []string{`"ab"`, `10`}, []string{`"abc"`, `9`}},
		{`{"type":"string","format":"email"}`, []string{`"a.b@example.com"`, `"x+y@sub.example.org"`}, []string{`"a@"`, `"@b.c"`, `"a b@c.d"`}},
		{`{"type":"string","format":"hostname"}`, []string{`"example.com"`, `"a-b.c"`}, []string{`"-a.com"`, `"a..b"`}},
		{`{"type":"string","format":"ipv4"}`, []string{`"192.168.0.1"`, `"255.255.255.255"`}, []string{`"256.1.1.1"`, `"1.2.3"`, `"01.2.3.4"`}},
		{`{"type":"string","format":"uri"}`, []string{`"https://example.com/a?b=c#d"`, `"mailto:a@b.c"`}, []string{`"no scheme"`, `"://x"`}},
		{`{"type":"string","pattern":"^\\d{3}-[A-Z]+$"}`, []string{`"123-AB"`}, []string{`"12-AB"`, `"123-ab"`}},
		{`{"type":"string","pattern":"a\"b"}`, []string{`"a\"b"`, `"xxa\"byy"`}, []string{`"ab"`}},
		{`{"type":"object","additionalProperties":{"type":"integer"}}`, []string{`{}`, `{"a": 1, "b": 2}`}, []string{`{"a": "x"}`}},
		{`{"enum":[{"a":1},[1,2],"x"]}`, []string{`{"a": 1}`, `[1, 2]`, `"x"`}, []string{`{"a":1}`, `[1,2]`}},
		{`{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}`, []string{`[1]`, `[1, 2]`}, []string{`[]`, `[1, 2, 3]`}},
		{`{"type":"string","minLength":2}`, []string{`"é漢"`, `"\n\t"`}, []string{`"é"`}},
	}
	for _, c := range cases {
		g, err := FromSchema([]byte(c.schema))
		if err != nil {
			t.Errorf("%s: %v", c.schema, err)
			continue
		}
		for _, s := range c.pass {
			if !g.Match(s) {
				t.Errorf("%s refuses %s", c.schema, s)
			}
		}
		for _, s := range c.fail {
			if g.Match(s) {
				t.Errorf("%s accepts %s", c.schema, s)
			}
		}
	}
	for schema, want := range map[string]string{
		`{"type":"string","format":"ipv6"}`:                              `format "ipv6" is not supported`,
		`{"type":"object","minProperties":1}`:                            `keyword "minProperties" is not supported`,
		`{"type":"number","multipleOf":2}`:                               `keyword "multipleOf" is not supported`,
		`{"$ref":"https://example.com/s.json"}`:                          "only local references",
		`{"$ref":"#/$defs/missing"}`:                                     `no "$defs"`,
		`{"type":"string","pattern":"^(?=a)b$"}`:                         "lookarounds",
		`{"type":"integer","minimum":5,"maximum":1}`:                     "no integer lies",
		`{"type":"number","minimum":0.5}`:                                "only integer bounds",
		`not json`:                                                       "not JSON",
		`{"type":"array","items":{"type":"x"}}`:                          `type "x"`,
		strings.Repeat(`{"items":`, 70) + "{}" + strings.Repeat("}", 70): "nested",
	} {
		_, err := FromSchema([]byte(schema))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: error %v, want %q", schema, err, want)
		}
	}
}
