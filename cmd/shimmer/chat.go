package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/shimmer-llm/shimmer/chat"
	"github.com/shimmer-llm/shimmer/engine"
)

func newChatCmd() *cobra.Command {
	var (
		mf      modelFlags
		sf      samplingFlags
		tplName string
		tplFile string
		system  string
		n       int
	)
	c := &cobra.Command{
		Use:   "chat -m MODEL [flags]",
		Short: "Chat with a model in the terminal (its chat template, streamed answers)",
		Long: "Chat with a model in the terminal. Lines are edited with the usual keys (arrows, history);\n" +
			"/reset starts the conversation over, /exit (or Ctrl-D) quits, and Ctrl-C stops the answer\n" +
			"being written without leaving. The conversation is rendered with the model's chat template\n" +
			"(or --chat-template NAME), as the server does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			so, err := sf.options()
			if err != nil {
				return err
			}
			e, err := mf.load(1)
			if err != nil {
				return err
			}
			defer e.Close()
			tpl, err := modelTemplate(e, tplName, tplFile, false)
			if err != nil {
				return err
			}
			s := &chatSession{e: e, tpl: tpl, system: system, opts: engine.GenerateOptions{SampleOptions: so, MaxTokens: n}}
			rl, err := readline.NewEx(&readline.Config{Prompt: "> ", InterruptPrompt: "^C", EOFPrompt: "/exit"})
			if err != nil {
				return err
			}
			defer rl.Close()
			// Ctrl-C belongs to the answers; SIGTERM (and the end of the
			// command's context) ends the chat.
			base, stop := context.WithCancel(context.WithoutCancel(cmd.Context()))
			defer stop()
			term := make(chan os.Signal, 1)
			signal.Notify(term, syscall.SIGTERM)
			defer signal.Stop(term)
			go func() {
				select {
				case <-term:
					stop()
					rl.Close()
				case <-base.Done():
				}
			}()
			fmt.Fprintf(os.Stderr, "shimmer chat: %s, chat template %s. /reset starts over, /exit quits, Ctrl-C stops an answer.\n",
				mf.path, tpl.Name())
			return chatLoop(base, rl, s, os.Stdout, interruptible)
		},
	}
	mf.demo = true
	mf.f16Cache = true
	mf.register(c)
	f := c.Flags()
	sf.register(f)
	f.StringVar(&tplFile, "chat-template-file", "", templateFileFlag)
	f.StringVar(&tplName, "chat-template", "", "built-in chat template to use instead of the model's: "+strings.Join(chat.Builtins(), ", ")+
		" (default: the model's, else "+chat.DefaultBuiltin+")")
	f.StringVar(&system, "system", "", "system prompt")
	f.IntVarP(&n, "n-predict", "n", -1, "most tokens per answer (-1: until end of generation or a full context)")
	return c
}

// modelTemplate returns the chat template of a loaded model.
//
// A name that is not a built-in's is the Jinja source of a template when
// jinja is set (llama-server's --chat-template with --jinja).
func modelTemplate(e *engine.Engine, name, file string, jinja bool) (*chat.Template, error) {
	tok := e.Tokenizer()
	text := func(id int32) string {
		if id < 0 {
			return ""
		}
		return tok.Text(id)
	}
	if file != "" {
		if name != "" {
			return nil, fmt.Errorf("--chat-template and --chat-template-file cannot be used together")
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("chat template: %w", err)
		}
		return chat.New(file, string(src), text(tok.BOS()), text(tok.EOS()))
	}
	if name != "" && jinja && !slices.Contains(chat.Builtins(), name) {
		return chat.New("--chat-template", name, text(tok.BOS()), text(tok.EOS()))
	}
	return chat.ForModel(e.File(), name, text(tok.BOS()), text(tok.EOS()))
}

// templateFileFlag is the help of --chat-template-file (llama-server's).
const templateFileFlag = "Jinja chat template file to use instead of the model's"

// lineReader reads the user's lines (readline.Instance).
type lineReader interface {
	Readline() (string, error)
}

// interruptible returns a context for one answer that Ctrl-C cancels.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		cancel()
	}
}

// chatLoop reads lines until /exit, end of input or ctx, answering each.
func chatLoop(ctx context.Context, lines lineReader, s *chatSession, out io.Writer, answerCtx func(context.Context) (context.Context, func())) error {
	for ctx.Err() == nil {
		line, err := lines.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue // Ctrl-C at the prompt clears the line
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch line = strings.TrimSpace(line); line {
		case "":
			continue
		case "/exit", "/quit":
			return nil
		case "/reset":
			s.reset()
			fmt.Fprintln(out, "(the conversation starts over)")
			continue
		case "/help", "/?":
			fmt.Fprintln(out, "/reset: start over; /exit: quit; Ctrl-C: stop the answer being written")
			continue
		}
		actx, done := answerCtx(ctx)
		res, err := s.ask(actx, line, out)
		stopped := actx.Err() != nil
		done()
		var ce *engine.ContextError
		switch {
		case errors.As(err, &ce):
			fmt.Fprintf(out, "(the conversation no longer fits the context of %d tokens: /reset to start over)\n", ce.Context)
		case stopped:
			fmt.Fprintln(out, "\n(stopped)")
		case err != nil:
			return err
		case res.StopReason == engine.StopContext:
			fmt.Fprintln(out, "\n(the context is full: /reset to start over)")
		default:
			fmt.Fprintln(out)
		}
	}
	return nil
}

// chatSession is a conversation with a model.
type chatSession struct {
	e       *engine.Engine
	tpl     *chat.Template
	system  string
	opts    engine.GenerateOptions
	history []chat.Message
}

func (s *chatSession) reset() { s.history = nil }

// ask adds the user's message and streams the answer to out. The answer
// stays in the history, even when ctx stops it early (as it was shown);
// a message that does not fit the context is dropped.
func (s *chatSession) ask(ctx context.Context, text string, out io.Writer) (engine.Result, error) {
	msgs := make([]chat.Message, 0, len(s.history)+2)
	if s.system != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: s.system})
	}
	msgs = append(append(msgs, s.history...), chat.Message{Role: "user", Content: text})
	prompt, err := s.tpl.Prompt(s.e.Tokenizer(), msgs, nil)
	if err != nil {
		return engine.Result{}, err
	}
	var answer strings.Builder
	res, err := s.e.GenerateTokens(ctx, prompt, s.opts, func(t engine.Token) error {
		answer.WriteString(t.Text)
		_, err := io.WriteString(out, t.Text)
		return err
	})
	var ce *engine.ContextError
	if errors.As(err, &ce) {
		return res, err
	}
	s.history = append(s.history, chat.Message{Role: "user", Content: text}, chat.Message{Role: "assistant", Content: answer.String()})
	if err != nil && ctx.Err() != nil {
		return res, nil
	}
	return res, err
}
