package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shimmer-llm/shimmer/engine"
)

// batchDefaults are the options of `run` that apply to every batch line
// that does not set its own.
type batchDefaults struct {
	so        engine.SampleOptions
	seeded    bool // --seed given: every line without a seed uses it
	maxTokens int
	ignoreEOG bool
}

// batchLine is one input line of `run --batch`.
type batchLine struct {
	Prompt           *string         `json:"prompt"`
	MaxTokens        *int            `json:"max_tokens"`
	NPredict         *int            `json:"n_predict"`
	Temperature      *float32        `json:"temperature"`
	TopK             *int            `json:"top_k"`
	TopP             *float32        `json:"top_p"`
	MinP             *float32        `json:"min_p"`
	RepeatPenalty    *float32        `json:"repeat_penalty"`
	PresencePenalty  *float32        `json:"presence_penalty"`
	FrequencyPenalty *float32        `json:"frequency_penalty"`
	Seed             *uint64         `json:"seed"`
	Stop             json.RawMessage `json:"stop"`
	IgnoreEOS        *bool           `json:"ignore_eos"`
}

// batchResult is one output line.
type batchResult struct {
	Index        int    `json:"index"`
	Text         string `json:"text"`
	PromptTokens int    `json:"prompt_tokens"`
	CachedTokens int    `json:"cached_tokens"`
	Tokens       int    `json:"tokens"`
	StopReason   string `json:"stop_reason"`
	Error        string `json:"error,omitempty"`
}

// options turns a line into the options of its generation.
func (l *batchLine) options(d batchDefaults) (engine.GenerateOptions, error) {
	o := engine.GenerateOptions{SampleOptions: d.so, MaxTokens: d.maxTokens, IgnoreEOG: d.ignoreEOG}
	if l.Prompt == nil {
		return o, fmt.Errorf("no \"prompt\"")
	}
	if !d.seeded {
		o.Seed = rand.Uint64()
	}
	set := func(dst *float32, v *float32) {
		if v != nil {
			*dst = *v
		}
	}
	set(&o.Temperature, l.Temperature)
	set(&o.TopP, l.TopP)
	set(&o.MinP, l.MinP)
	set(&o.RepeatPenalty, l.RepeatPenalty)
	set(&o.PresencePenalty, l.PresencePenalty)
	set(&o.FrequencyPenalty, l.FrequencyPenalty)
	if l.TopK != nil {
		o.TopK = *l.TopK
	}
	if l.Seed != nil {
		o.Seed = *l.Seed
	}
	for _, n := range []*int{l.NPredict, l.MaxTokens} {
		if n != nil {
			o.MaxTokens = *n
		}
	}
	if l.IgnoreEOS != nil {
		o.IgnoreEOG = *l.IgnoreEOS
	}
	if len(l.Stop) > 0 && string(l.Stop) != "null" {
		var one string
		if json.Unmarshal(l.Stop, &one) == nil {
			o.Stop = []string{one}
		} else if err := json.Unmarshal(l.Stop, &o.Stop); err != nil {
			return o, fmt.Errorf("\"stop\" must be a string or an array of strings")
		}
	}
	if err := checkSampling(o.SampleOptions); err != nil {
		return o, fmt.Errorf("%s", strings.NewReplacer("--temp", "temperature", "--", "", "-", "_").Replace(err.Error()))
	}
	return o, nil
}

// runBatch runs the prompts of a JSON-lines file as parallel sequences of
// one engine and prints the results in input order as they complete.
func runBatch(ctx context.Context, mf *modelFlags, path string, parallel int, d batchDefaults, stdout io.Writer) error {
	if parallel < 1 {
		return fmt.Errorf("--parallel must be at least 1")
	}
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var lines []batchLine
	var lineErrs []error
	var lineNos []int
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var l batchLine
		var err error
		if e := json.Unmarshal([]byte(text), &l); e != nil {
			err = fmt.Errorf("line %d: %v", n, e)
		}
		lines = append(lines, l)
		lineErrs = append(lineErrs, err)
		lineNos = append(lineNos, n)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	e, err := mf.loadWith(engine.Options{Sequences: parallel, QueueSize: parallel})
	if err != nil {
		return err
	}
	defer e.Close()

	results := make([]batchResult, len(lines))
	done := make([]chan struct{}, len(lines))
	for i := range done {
		done[i] = make(chan struct{})
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range lines {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = runLine(ctx, e, i, lineNos[i], &lines[i], lineErrs[i], d)
				close(done[i])
			}
		}()
	}
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	total, failed := 0, 0
	for i := range lines {
		select {
		case <-done[i]:
		case <-ctx.Done():
			wg.Wait()
			out.Flush()
			return ctx.Err()
		}
		if err := enc.Encode(results[i]); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
		total += results[i].Tokens
		if results[i].Error != "" {
			failed++
		}
	}
	wg.Wait()
	wall := time.Since(start)
	fmt.Fprintf(os.Stderr, "batch: %d prompts (%d failed), %d tokens in %.2f s (%.2f tokens/s) with %d sequences\n",
		len(lines), failed, total, wall.Seconds(), perSecond(total, wall), parallel)
	return nil
}

func runLine(ctx context.Context, e *engine.Engine, i, lineNo int, l *batchLine, lineErr error, d batchDefaults) batchResult {
	r := batchResult{Index: i}
	if lineErr != nil {
		r.Error = lineErr.Error()
		return r
	}
	opts, err := l.options(d)
	if err != nil {
		r.Error = fmt.Sprintf("line %d: %v", lineNo, err)
		return r
	}
	var b strings.Builder
	res, err := e.Generate(ctx, *l.Prompt, opts, func(t engine.Token) error {
		b.WriteString(t.Text)
		return nil
	})
	r.Text, r.PromptTokens, r.CachedTokens, r.Tokens, r.StopReason = b.String(), res.PromptTokens, res.CachedTokens, res.Tokens, string(res.StopReason)
	if err != nil {
		r.Error = err.Error()
	}
	return r
}
