// Package archs registers every architecture shimmer supports; import it
// for its side effect:
//
//	import _ "github.com/shimmer-llm/shimmer/model/archs"
package archs

import (
	_ "github.com/shimmer-llm/shimmer/model/bert"     // bert (bge, MiniLM, e5 and cross-encoder rerankers)
	_ "github.com/shimmer-llm/shimmer/model/gemma3"   // gemma3
	_ "github.com/shimmer-llm/shimmer/model/gptoss"   // gpt-oss (gpt-oss-20b, -120b)
	_ "github.com/shimmer-llm/shimmer/model/llama"    // llama (Llama 1–3, Mistral, SmolLM, TinyLlama)
	_ "github.com/shimmer-llm/shimmer/model/phi3"     // phi3
	_ "github.com/shimmer-llm/shimmer/model/qwen2"    // qwen2
	_ "github.com/shimmer-llm/shimmer/model/qwen3"    // qwen3
	_ "github.com/shimmer-llm/shimmer/model/qwen3moe" // qwen3moe (Qwen3-30B-A3B …)
)
