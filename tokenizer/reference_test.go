package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// TestStoriesReference checks the stories260K text cases: the prompt with
// BOS and special parsing, and the greedy continuation rendered with
// special tokens.
func TestStoriesReference(t *testing.T) {
	dir := testdata.Path(t, "reference")
	files, _ := filepath.Glob(filepath.Join(dir, "stories260K*.text-*.json"))
	if len(files) == 0 {
		t.Skip("no stories260K text cases")
	}
	tk := loadFile(t, testdata.Path(t, "models", "stories260K.gguf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r testdata.Reference
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if got := tk.Encode(r.PromptText, true, true); !slices.Equal(got, r.PromptIDs) {
			t.Errorf("%s: Encode(%q) = %v, want %v", filepath.Base(f), r.PromptText, got, r.PromptIDs)
		}
		if got := tk.Decode(r.GreedyIDs, true); got != r.GreedyText {
			t.Errorf("%s: Decode = %q, want %q", filepath.Base(f), got, r.GreedyText)
		}
		d := tk.NewStreamDecoder(true)
		var s string
		for _, id := range r.GreedyIDs {
			s += d.Add(id)
		}
		if s += d.Flush(); s != r.GreedyText {
			t.Errorf("%s: stream = %q, want %q", filepath.Base(f), s, r.GreedyText)
		}
	}
	t.Logf("%d reference cases", len(files))
}
