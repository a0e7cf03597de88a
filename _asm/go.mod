module github.com/shimmer-llm/shimmer/_asm

go 1.26.0
