// Package tokenizer converts between text and token ids with the
// vocabulary stored in a GGUF file (tokenizer.ggml.* keys), exactly as
// llama.cpp does.
//
// API contract (implementation in progress): the engine, CLI and server
// use only the exported names below.
package tokenizer

import (
	"errors"

	"github.com/shimmer-llm/shimmer/gguf"
)

// TokenType is a token's type as stored in tokenizer.ggml.token_type.
type TokenType int32

// Token types.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// Tokenizer is an immutable vocabulary; it is safe for concurrent use.
type Tokenizer struct{}

// New reads the vocabulary of f. An unknown tokenizer model or
// pre-tokenizer is an error naming it.
func New(f *gguf.File) (*Tokenizer, error) { return nil, errors.New("tokenizer: not implemented") }

// Encode tokenizes text. addSpecial adds BOS/EOS as the vocabulary asks
// (add_bos_token/add_eos_token and family defaults); parseSpecial turns the
// text of control tokens into those tokens.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 { return nil }

// Piece returns the bytes token id stands for (SentencePiece ▁ as a space,
// byte tokens as their byte). Control and unknown tokens give their text
// only when special is true.
func (t *Tokenizer) Piece(id int32, special bool) string { return "" }

// Decode concatenates the pieces of ids.
func (t *Tokenizer) Decode(ids []int32, special bool) string { return "" }

// NumTokens returns the vocabulary size.
func (t *Tokenizer) NumTokens() int { return 0 }

// Text returns the stored text of token id (as in tokenizer.ggml.tokens).
func (t *Tokenizer) Text(id int32) string { return "" }

// Type returns the type of token id.
func (t *Tokenizer) Type(id int32) TokenType { return 0 }

// BOS returns the beginning-of-sequence token, or -1.
func (t *Tokenizer) BOS() int32 { return -1 }

// EOS returns the end-of-sequence token, or -1.
func (t *Tokenizer) EOS() int32 { return -1 }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return false }

// IsEOG reports whether id ends generation (EOS, EOT, <|im_end|>, …).
func (t *Tokenizer) IsEOG(id int32) bool { return false }

// StreamDecoder turns a stream of token ids into text without ever
// splitting a UTF-8 character: bytes of an incomplete character are held
// back until the character is complete.
type StreamDecoder struct{}

// NewStreamDecoder returns a decoder; special controls whether control
// tokens are rendered as their text.
func (t *Tokenizer) NewStreamDecoder(special bool) *StreamDecoder { return &StreamDecoder{} }

// Add consumes one token and returns the text that is now complete.
func (d *StreamDecoder) Add(id int32) string { return "" }

// Flush returns whatever bytes are held back (possibly invalid UTF-8).
func (d *StreamDecoder) Flush() string { return "" }
