package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// The official clients, unmodified, against `shimmer serve` over
// stories260K: the openai npm client with response_format json_schema
// for a dozen written and eight generated schemas and with tools and
// tool_choice "required" (streamed and not), LangChain's
// withStructuredOutput and the AI SDK's generateObject; ajv (draft
// 2020-12, with formats) validates every object against its schema
// (testdata/clients/clients.mjs). The npm packages, pinned in
// testdata/clients/package.json, are installed in the test's temp dir.
// Then /v1/embeddings through the openai client and LangChain's
// OpenAIEmbeddings, compared with llama.cpp's vectors (embed.mjs).
// Then ollama's own client (ollama-js) and the openai client against two
// models served by one process (ollama.mjs).
// Without Node.js or the npm registry the test skips, and fails in CI.
func TestOfficialClients(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no npm install")
	}
	need := func(err error, what string) {
		t.Helper()
		if err == nil {
			return
		}
		if testdata.InCI() {
			t.Fatalf("%s: %v", what, err)
		}
		t.Skipf("%s: %v", what, err)
	}
	_, err := exec.LookPath("node")
	need(err, "node")
	_, err = exec.LookPath("npm")
	need(err, "npm")
	dir := t.TempDir()
	for _, f := range []string{"package.json", "clients.mjs", "embed.mjs", "ollama.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "clients", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	out, err := install.CombinedOutput()
	need(err, "npm install: "+string(out))

	_, url := startServe(t, "--parallel", "2")
	runNode(t, dir, "clients", "AI_SDK_LOG_WARNINGS=false", "clients.mjs", url)

	// Embeddings: a BERT encoder, and a chat model given a pooling.
	_, bert := startServe(t, "-m", testdata.Path(t, "models", "tiny-bert.gguf"), "--alias", "tiny-bert")
	_, qwen := startServe(t, "-m", testdata.Path(t, "models", "tiny-qwen3.gguf"), "--pooling", "last", "--alias", "tiny-qwen3")
	runNode(t, dir, "embedding clients", "", "embed.mjs", testdata.Path(t, "embed", "texts.txt"),
		"tiny-bert="+bert+"="+testdata.Path(t, "embed", "tiny-bert.jsonl"),
		"tiny-qwen3="+qwen+"="+testdata.Path(t, "embed", "tiny-qwen3-embed.jsonl"))

	// ollama-js and the openai client against two models in one server.
	models := t.TempDir()
	for _, m := range []string{"stories260K", "tiny-llama"} {
		if err := os.Symlink(testdata.Path(t, "models", m+".gguf"), filepath.Join(models, m+".gguf")); err != nil {
			t.Fatal(err)
		}
	}
	_, multi := startServeArgs(t, "--models-dir", models, "--max-loaded", "1")
	runNode(t, dir, "ollama clients", "", "ollama.mjs", multi, testdata.Path(t, "reference", "stories260K.text-once.json"))
}

// runNode runs a client script in dir (with env, if not empty, added),
// logs its lines and fails the test if it fails.
func runNode(t *testing.T, dir, what, env string, args ...string) {
	t.Helper()
	node := exec.Command("node", args...)
	node.Dir = dir
	node.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	if env != "" {
		node.Env = append(node.Env, env)
	}
	res, err := node.CombinedOutput()
	for _, l := range strings.Split(strings.TrimSpace(string(res)), "\n") {
		t.Log(l)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
