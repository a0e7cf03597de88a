package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
	"github.com/shimmer-llm/shimmer/internal/testdata"
)

// `shimmer serve` answers like `shimmer run --temp 0`, and exits 0 on
// SIGTERM.
func TestServe(t *testing.T) {
	ref := testdata.LoadReference(t, "stories260K.text-once")
	cmd, url := startServe(t, "--parallel", "2", "--api-key", "k")
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/completions",
		strings.NewReader(fmt.Sprintf(`{"prompt":%q,"max_tokens":32,"temperature":0}`, ref.PromptText)))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Choices []struct{ Text string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body.Choices) != 1 || body.Choices[0].Text != ref.GreedyText {
		t.Errorf("%s: %+v", resp.Status, body)
	}
	out, _, _ := shimmer(t, "", "run", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--temp", "0", "-n", "32", ref.PromptText)
	if len(body.Choices) == 1 && out != body.Choices[0].Text {
		t.Errorf("run %q, serve %q", out, body.Choices[0].Text)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
}

func TestRunBatch(t *testing.T) {
	model := testdata.Path(t, "models", "stories260K.gguf")
	prompts := []string{"Once upon a time", "The little dog", "Lily and Tom", "One day", "The sun", "Tim had a ball"}
	var in strings.Builder
	for i, p := range prompts {
		fmt.Fprintf(&in, `{"prompt":%q,"max_tokens":%d}`+"\n", p, 10+i)
	}
	in.WriteString("not json\n")
	in.WriteString(`{"prompt":"Once upon a time","max_tokens":32,"stop":"Lily"}` + "\n")
	out, errs, code := shimmer(t, in.String(), "run", "-m", model, "--batch", "-", "--parallel", "3", "--temp", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	results := strings.Split(strings.TrimSpace(out), "\n")
	if len(results) != len(prompts)+2 {
		t.Fatalf("%d results:\n%s", len(results), out)
	}
	for i, line := range results {
		var r batchResult
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Index != i {
			t.Fatalf("line %d: %s (%v)", i, line, err)
		}
		switch {
		case i < len(prompts):
			// Each as `shimmer run --temp 0` alone.
			want, _, _ := shimmer(t, "", "run", "-m", model, "--temp", "0", "-n", fmt.Sprint(10+i), prompts[i])
			if r.Text != want || r.Error != "" || r.Tokens == 0 {
				t.Errorf("prompt %d: %+v, want %q", i, r, want)
			}
		case i == len(prompts):
			if !strings.Contains(r.Error, "line 7") {
				t.Errorf("bad line: %+v", r)
			}
		default:
			if r.StopReason != "stop" || strings.Contains(r.Text, "Lily") {
				t.Errorf("stop: %+v", r)
			}
		}
	}
	if !strings.Contains(errs, "tokens/s") {
		t.Errorf("stderr %q", errs)
	}
}

// The chat command with piped input: answers, /reset, /exit.
func TestChatCommand(t *testing.T) {
	out, errs, code := shimmer(t, "Once upon a time\n/reset\nThe little dog\n/exit\nnever read\n",
		"chat", "-m", testdata.Path(t, "models", "stories260K.gguf"), "--temp", "0", "-n", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "(the conversation starts over)") || !strings.Contains(errs, "chat template chatml") {
		t.Errorf("stdout %q\nstderr %q", out, errs)
	}
}

func TestChatSession(t *testing.T) {
	e, err := engine.Load(testdata.Path(t, "models", "stories260K.gguf"), engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tpl, err := modelTemplate(e, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	s := &chatSession{e: e, tpl: tpl, system: "You tell stories.", opts: engine.GenerateOptions{MaxTokens: 8}}
	var out strings.Builder
	if _, err := s.ask(context.Background(), "Once upon a time", &out); err != nil {
		t.Fatal(err)
	}
	first := out.String()
	if len(s.history) != 2 || s.history[1].Content != first || first == "" {
		t.Fatalf("history %+v, output %q", s.history, first)
	}
	// The second turn reuses the first from the cache.
	res, err := s.ask(context.Background(), "And then?", &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.CachedTokens < 10 {
		t.Errorf("second turn: %d cached tokens of %d", res.CachedTokens, res.PromptTokens)
	}
	// A stopped answer stays as far as it went.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	s.opts.MaxTokens = 100
	stopper := writerFunc(func(p []byte) (int, error) {
		if n++; n == 3 {
			cancel()
		}
		return len(p), nil
	})
	if _, err := s.ask(ctx, "Tell me more.", stopper); err != nil {
		t.Fatal(err)
	}
	if len(s.history) != 6 {
		t.Errorf("history after a stopped answer: %d messages", len(s.history))
	}
	// Lines through the loop: /reset empties the history.
	lines := &fakeLines{lines: []string{"/reset", "/exit"}}
	if err := chatLoop(context.Background(), lines, s, io.Discard, func(c context.Context) (context.Context, func()) {
		return context.WithCancel(c)
	}); err != nil || len(s.history) != 0 {
		t.Errorf("loop: %v, %d messages", err, len(s.history))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type fakeLines struct{ lines []string }

func (f *fakeLines) Readline() (string, error) {
	if len(f.lines) == 0 {
		return "", io.EOF
	}
	l := f.lines[0]
	f.lines = f.lines[1:]
	return l, nil
}

// startServe starts `shimmer serve` over stories260K on a free port with
// extra flags and returns the process (killed at the end of the test) and
// its base URL, read from its log.
func startServe(t *testing.T, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	return startServeArgs(t, append([]string{"-m", testdata.Path(t, "models", "stories260K.gguf")}, flags...)...)
}

// startServeArgs is startServe without a default model.
func startServeArgs(t *testing.T, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(shimmerBin, append([]string{"serve", "--port", "0"}, flags...)...)
	// A home of its own: serve without -m finds no model of this machine's.
	cmd.Env = homeEnv(t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := bufio.NewScanner(stderr)
	url := ""
	for url == "" && lines.Scan() {
		if m := regexp.MustCompile(`url=(\S+)`).FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatal("no url in the log")
	}
	go io.Copy(io.Discard, stderr)
	return cmd, url
}
