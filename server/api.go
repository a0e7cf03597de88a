package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// apiError is an OpenAI error: written as {"error": {...}} with status.
type apiError struct {
	status     int
	retryAfter int     // seconds, for 503
	limit      int64   // 413: the body limit that was hit
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       *string `json:"code"`
	// NPrompt and NCtx are llama-server's fields of a prompt too long for
	// the context (exceed_context_size_error).
	NPrompt int `json:"n_prompt_tokens,omitempty"`
	NCtx    int `json:"n_ctx,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// invalid is a 400 invalid_request_error about param.
func invalid(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, Type: "invalid_request_error", Param: strPtr(param), Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.retryAfter))
	}
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(struct {
		Error *apiError `json:"error"`
	}{e})
}

// decodeJSON reads the request body into v, naming the offending field in
// the error when a value has the wrong type.
func decodeJSON(r io.Reader, v any) *apiError {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		var fe *fieldError
		switch {
		case errors.As(err, &mbe):
			return tooLarge(mbe.Limit)
		case errors.As(err, &fe):
			return invalid(fe.field, "%s", fe.msg)
		case errors.As(err, &te):
			// The fields of the embedded sampling struct are top-level.
			field := strings.TrimPrefix(strings.TrimPrefix(te.Field, "sampling."), "unsupportedSamplers.")
			if field == "" {
				return invalid("", "the request body must be a JSON object")
			}
			return invalid(field, "'%s' must be %s, not %s", field, jsonKind(te.Type.String()), te.Value)
		case errors.As(err, &se):
			return invalid("", "the request body is not valid JSON: %v", err)
		case errors.Is(err, io.EOF):
			return invalid("", "the request body is empty; expected a JSON object")
		default:
			return invalid("", "the request body is not valid JSON: %v", err)
		}
	}
	if dec.More() {
		return invalid("", "the request body holds more than one JSON value")
	}
	return nil
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "struct"), strings.Contains(goType, "server."):
		return "an object"
	}
	return "of type " + goType
}

func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", limit: limit,
		Message: fmt.Sprintf("the request body is larger than %d bytes", limit)}
}

// fieldError is a decoding error of a field with a custom decoder.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

// stringList is OpenAI's "string or array of strings" (stop).
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = stringList{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return &fieldError{"stop", "'stop' must be a string or an array of strings"}
	}
	*s = list
	return nil
}

// streamOptions are the options of a streamed response.
type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// sampling holds the request fields shared by chat and text completions,
// with llama.cpp's extensions (top_k, min_p, repeat_penalty, …).
type sampling struct {
	Model            string          `json:"model"`
	MaxTokens        *int            `json:"max_tokens"`
	Temperature      *float64        `json:"temperature"`
	TopP             *float64        `json:"top_p"`
	TopK             *int            `json:"top_k"`
	MinP             *float64        `json:"min_p"`
	RepeatPenalty    *float64        `json:"repeat_penalty"`
	RepeatLastN      *int            `json:"repeat_last_n"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	Seed             *int64          `json:"seed"`
	Stop             stringList      `json:"stop"`
	N                *int            `json:"n"`
	Stream           bool            `json:"stream"`
	StreamOptions    *streamOptions  `json:"stream_options"`
	IgnoreEOS        bool            `json:"ignore_eos"`
	NKeep            *int            `json:"n_keep"` // tokens a context shift keeps`
	LogitBias        json.RawMessage `json:"logit_bias"`
	// Constrained output: llama-server's grammar (GBNF) and json_schema,
	// and OpenAI's response_format.
	Grammar *string `json:"grammar"`
	unsupportedSamplers
	JSONSchema     json.RawMessage `json:"json_schema"`
	ResponseFormat *responseFormat `json:"response_format"`
	// LoRA sets the loaded adapters' scales for this request, as
	// llama-server's "lora": [{"id", "scale"}] (unlisted adapters 0).
	LoRA []loraScale `json:"lora"`
}

// loraScale is one entry of a "lora" list (a request's, or the body of
// POST /lora-adapters).
type loraScale struct {
	ID    *int     `json:"id"`
	Scale *float64 `json:"scale"`
}

// usage is the token accounting of a response.
type usage struct {
	PromptTokens        int           `json:"prompt_tokens"`
	CompletionTokens    int           `json:"completion_tokens"`
	TotalTokens         int           `json:"total_tokens"`
	PromptTokensDetails *promptDetail `json:"prompt_tokens_details,omitempty"`
}

type promptDetail struct {
	CachedTokens int `json:"cached_tokens"`
}

// Chat completions.

type chatRequest struct {
	sampling
	Messages            []chatMessage   `json:"messages"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            bool            `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ChatTemplateKwargs  map[string]any  `json:"chat_template_kwargs"`
	// llama-server's: the generation prompt (default true), or instead
	// continuing the final assistant message (vLLM's spelling of the
	// prefill a final assistant message gets anyway); __verbose in the
	// response; timings in the stream's last chunks.
	AddGenerationPrompt  *bool `json:"add_generation_prompt"`
	ContinueFinalMessage bool  `json:"continue_final_message"`
	Verbose              bool  `json:"verbose"`
	TimingsPerToken      bool  `json:"timings_per_token"`
	ReturnProgress       bool  `json:"return_progress"`
	IDSlot               *int  `json:"id_slot"` // any free sequence is used
}

// responseFormat is OpenAI's response_format: text, json_object, or
// json_schema with {name, schema, strict}; llama-server also takes the
// schema directly as "schema".
type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
	Schema json.RawMessage `json:"schema"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  []toolCallOut   `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	// ReasoningContent of an earlier assistant turn (llama-server's
	// field; "thinking" is accepted too).
	ReasoningContent string `json:"reasoning_content"`
	Thinking         string `json:"thinking"`
}

// toolCallOut is a tool call in OpenAI's format (index only in stream
// deltas).
type toolCallOut struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// toolDef is a request's tool.
type toolDef struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// contentPart is one element of an array content.
type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type chatResponse struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage,omitempty"`
	// Timings (timings_per_token) and Verbose (verbose, or the server's
	// --verbose) are llama-server's.
	Timings map[string]any `json:"timings,omitempty"`
	Verbose map[string]any `json:"__verbose,omitempty"`
	// Progress is llama-server's prompt_progress (return_progress).
	Progress map[string]any `json:"prompt_progress,omitempty"`
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      *chatOut      `json:"message,omitempty"`
	Delta        *chatOut      `json:"delta,omitempty"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	// ReasoningContent is the model's reasoning (gpt-oss's analysis
	// channel), as llama-server and DeepSeek's API return it.
	ReasoningContent *string       `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallOut `json:"tool_calls,omitempty"`
	// NullContent writes "content": null (a stream's first delta, as
	// llama-server's) where a nil Content is left out.
	NullContent bool `json:"-"`
}

func (c chatOut) MarshalJSON() ([]byte, error) {
	type plain chatOut
	if !c.NullContent || c.Content != nil {
		return json.Marshal(plain(c))
	}
	return json.Marshal(struct {
		plain
		Content *string `json:"content"`
	}{plain: plain(c)})
}

type chatLogprobs struct {
	Content []tokenLogprob `json:"content"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []altLogprob `json:"top_logprobs"`
}

type altLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Text completions.

type completionRequest struct {
	sampling
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
	BestOf   *int            `json:"best_of"`
}

type completionResponse struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             *usage             `json:"usage,omitempty"`
}

type completionChoice struct {
	Index        int                 `json:"index"`
	Text         string              `json:"text"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// unsupportedSamplers are llama-server sampler fields shimmer does not
// implement: a request that sets one to anything but its neutral value
// gets a 400 naming it, rather than output that silently ignores it.
type unsupportedSamplers struct {
	TfsZ *float64 `json:"tfs_z"`
	// DRY (sampling's dry sampler): multiplier 0 is off, last n 0 too,
	// -1 the whole context.
	DryMultiplier     *float64        `json:"dry_multiplier"`
	DryBase           *float64        `json:"dry_base"`
	DryAllowedLength  *int            `json:"dry_allowed_length"`
	DryPenaltyLastN   *int            `json:"dry_penalty_last_n"`
	DrySequenceBreaks *[]string       `json:"dry_sequence_breakers"`
	GrammarLazy       *bool           `json:"grammar_lazy"`
	GrammarTriggers   json.RawMessage `json:"grammar_triggers"`
	NProbs            *float64        `json:"n_probs"`
	// llama-server's samplers beyond OpenAI's, all implemented
	// (sampling.Chain).
	Mirostat         *int            `json:"mirostat"`
	MirostatTau      *float64        `json:"mirostat_tau"`
	MirostatEta      *float64        `json:"mirostat_eta"`
	TypicalP         *float64        `json:"typical_p"`
	DynatempRange    *float64        `json:"dynatemp_range"`
	DynatempExponent *float64        `json:"dynatemp_exponent"`
	XTCProbability   *float64        `json:"xtc_probability"`
	XTCThreshold     *float64        `json:"xtc_threshold"`
	TopNSigma        *float64        `json:"top_n_sigma"`
	Samplers         json.RawMessage `json:"samplers"`
}

// check returns the first field set away from its neutral value.
func (u *unsupportedSamplers) check() *apiError {
	num := []struct {
		name    string
		v       *float64
		neutral float64
	}{{"tfs_z", u.TfsZ, 1}, {"n_probs", u.NProbs, 0}}
	for _, f := range num {
		if f.v != nil && *f.v != f.neutral {
			return invalid(f.name, "'%s' is not supported by this server (leave it out, or at %g)", f.name, f.neutral)
		}
	}
	if u.GrammarLazy != nil && *u.GrammarLazy || len(u.GrammarTriggers) > 0 && string(u.GrammarTriggers) != "null" && string(u.GrammarTriggers) != "[]" {
		return invalid("grammar_lazy", "lazy grammars ('grammar_lazy', 'grammar_triggers') are not supported")
	}
	return nil
}
