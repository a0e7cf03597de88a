package grammar

import (
	"math/rand/v2"
	"testing"
)

// allowedBrute is Allowed token by token: advance a copy of the state by
// each token's bytes.
func allowedBrute(m *Matcher, pieces []string) []bool {
	out := make([]bool, len(pieces))
	saved := append([]*frame(nil), m.cur...)
	for id, p := range pieces {
		if p == "" {
			continue
		}
		out[id] = m.AcceptBytes(p)
		m.cur = append(m.cur[:0], saved...)
	}
	return out
}

// The trie walk allows exactly the tokens whose bytes the state accepts,
// at every step of a few texts through a JSON schema grammar, cached
// states included.
func TestAllowedMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"{", "}", "\"", ":", ",", " ", "a", "b", "1", "0", "-", ".", "e", "true", "null", "é", "\xc3", "\xa9", "\\", "n", "[", "]", "\n"}
	var pieces []string
	seen := map[string]bool{}
	for len(pieces) < 3000 {
		var p string
		for n := 1 + r.IntN(4); n > 0; n-- {
			p += alphabet[r.IntN(len(alphabet))]
		}
		if !seen[p] {
			seen[p] = true
			pieces = append(pieces, p)
		}
	}
	pieces = append(pieces, "", `{"name": "`, `"}`)
	v := NewVocab(pieces)
	g, err := FromSchema([]byte(`{"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"enum":["a","b"]}}},"required":["name"]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	mask := make([]uint64, v.MaskWords())
	for _, text := range []string{`{"name": "aé\n b", "n": 10, "tags": ["a", "b"]}`, `{ "name":"x" }`} {
		m.Reset()
		for i := 0; i <= len(text); i++ {
			m.Allowed(v, mask)
			want := allowedBrute(m, pieces)
			for id := range pieces {
				if got := mask[id>>6]&(1<<(id&63)) != 0; got != want[id] {
					t.Fatalf("after %q: token %q allowed %v, brute force %v", text[:i], pieces[id], got, want[id])
				}
			}
			if i < len(text) && !m.Accept(text[i]) {
				t.Fatalf("text refused at %d", i)
			}
		}
		if !m.CanEnd() {
			t.Fatalf("%q cannot end", text)
		}
	}
}
