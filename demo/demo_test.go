package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The embedded file is stories260K as published (ggml-org's
// test-model-stories260K), the checksum the shared test data lists for it.
func TestModelIsStories260K(t *testing.T) {
	sum := sha256.Sum256(Model())
	if got, want := hex.EncodeToString(sum[:]), "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"; got != want {
		t.Fatalf("sha256 %s, want %s", got, want)
	}
}
