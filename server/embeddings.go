package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sort"

	"github.com/shimmer-llm/shimmer/engine"
	smodel "github.com/shimmer-llm/shimmer/model"
)

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

type embeddingData struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingsResponse struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// embedInputs reads OpenAI's input: a string, a list of strings, a token
// array or a list of token arrays. It returns either texts or token
// sequences.
func embedInputs(raw json.RawMessage) (texts []string, seqs [][]int32, e *apiError) {
	raw = bytes.TrimSpace(raw)
	bad := invalid("input", "input must be a string, a list of strings, a token array or a list of token arrays")
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, invalid("input", "input is missing")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, nil, bad
	}
	if len(list) == 0 {
		return nil, nil, invalid("input", "input is an empty list")
	}
	var ids []int32
	if json.Unmarshal(raw, &ids) == nil {
		return nil, [][]int32{ids}, nil
	}
	if json.Unmarshal(raw, &texts) == nil {
		return texts, nil, nil
	}
	if json.Unmarshal(raw, &seqs) == nil {
		return nil, seqs, nil
	}
	return nil, nil, bad
}

// embed tokenizes texts as the generation endpoints do (cut to the
// context when truncate) after the token sequences seqs, embeds them all,
// and cuts the vectors to their first dims values (0: all), renormalised.
// It returns the vectors and the sequences embedded.
func (b *backend) embed(ctx context.Context, seqs [][]int32, texts []string, truncate bool, dims int) ([][]float32, [][]int32, *apiError) {
	tok, c := b.e.Tokenizer(), b.e.Options().Context
	for i, t := range texts {
		if t == "" {
			return nil, nil, invalid("input", "input[%d] is an empty string", i)
		}
		ids := tok.Encode(t, true, true)
		if truncate && len(ids) > c {
			ids = ids[:c]
		}
		seqs = append(seqs, ids)
	}
	vecs, err := b.e.EmbedTokens(ctx, seqs, engine.EmbedOptions{})
	if err != nil {
		return nil, nil, embedError(err)
	}
	if dims != 0 {
		if len(vecs) > 0 && (dims < 1 || dims > len(vecs[0])) {
			return nil, nil, invalid("dimensions", "dimensions must be between 1 and %d", len(vecs[0]))
		}
		for i := range vecs {
			vecs[i] = vecs[i][:dims]
			smodel.L2Normalize(vecs[i])
		}
	}
	return vecs, seqs, nil
}

// handleEmbeddings serves POST /v1/embeddings.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingsRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	if !b.e.IsEmbedding() {
		writeError(w, invalid("model", "model %s is not an embedding model: it declares no pooling type", b.name))
		return
	}
	if b.e.Pooling() == smodel.PoolNone {
		writeError(w, invalid("model", "model %s pools with none (one vector per token), which the OpenAI embeddings API cannot return; start the server with --pooling mean, cls or last", b.name))
		return
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		writeError(w, invalid("encoding_format", "encoding_format must be float or base64, not %q", req.EncodingFormat))
		return
	}
	texts, seqs, e := embedInputs(req.Input)
	if e != nil {
		writeError(w, e)
		return
	}
	dims := 0 // all
	if d := req.Dimensions; d != nil {
		dims = *d
		if dims == 0 {
			dims = -1 // refused by embed, as any dims below 1
		}
	}
	vecs, seqs, e := b.embed(r.Context(), seqs, texts, false, dims)
	if e != nil {
		writeError(w, e)
		return
	}
	resp := embeddingsResponse{Object: "list", Model: b.name, Data: make([]embeddingData, len(vecs))}
	for i, v := range vecs {
		var emb any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		}
		resp.Data[i] = embeddingData{Object: "embedding", Index: i, Embedding: emb}
		resp.Usage.PromptTokens += len(seqs[i])
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	b.writeJSON(w, resp)
}

// embedError maps Embed's errors to 400s that name the input.
func embedError(err error) *apiError {
	var ie *engine.InputError
	if errors.As(err, &ie) {
		var ce *engine.ContextError
		if errors.As(err, &ce) {
			return invalid("input", "input[%d] has %d tokens, more than the model's %d", ie.Index, ce.Tokens, ce.Context)
		}
		return invalid("input", "input[%d]: %v", ie.Index, ie.Err)
	}
	if errors.Is(err, engine.ErrNotEmbedding) || errors.Is(err, engine.ErrNoClassifier) {
		return invalid("model", "%v", err)
	}
	return &apiError{status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()}
}

type rerankRequest struct {
	Model           string   `json:"model"`
	Query           *string  `json:"query"`
	Documents       []string `json:"documents"`
	TopN            *int     `json:"top_n"`
	ReturnDocuments bool     `json:"return_documents"`
}

type rerankResult struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
	Document       *struct {
		Text string `json:"text"`
	} `json:"document,omitempty"`
}

// handleRerank serves POST /v1/rerank as llama-server does: results
// sorted by relevance_score (the classifier's output), at most top_n.
func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) {
	var req rerankRequest
	if e := s.readJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	b, release, e := s.acquire(r.Context(), req.Model)
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	switch {
	case req.Query == nil:
		writeError(w, invalid("query", "query is missing"))
		return
	case len(req.Documents) == 0:
		writeError(w, invalid("documents", "documents must be a non-empty list of strings"))
		return
	case req.TopN != nil && *req.TopN < 0:
		writeError(w, invalid("top_n", "top_n must not be negative"))
		return
	}
	res, err := b.e.Rerank(r.Context(), *req.Query, req.Documents)
	if err != nil {
		writeError(w, embedError(err))
		return
	}
	out := make([]rerankResult, len(res))
	for i, x := range res {
		out[i] = rerankResult{Index: x.Index, RelevanceScore: float64(x.Score)}
		if req.ReturnDocuments {
			out[i].Document = &struct {
				Text string `json:"text"`
			}{req.Documents[x.Index]}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].RelevanceScore > out[b].RelevanceScore })
	if req.TopN != nil && *req.TopN < len(out) {
		out = out[:*req.TopN]
	}
	tokens := 0
	for _, d := range req.Documents {
		tokens += len(smodel.RerankIDs(b.e.Tokenizer(), *req.Query, d))
	}
	b.writeJSON(w, map[string]any{"model": b.name, "object": "list", "results": out,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}
