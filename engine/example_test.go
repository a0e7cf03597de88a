package engine_test

import (
	"context"
	"fmt"

	"github.com/shimmer-llm/shimmer/engine"
)

// Load a model and stream a greedy completion (here of the small
// stories260K model from the shared reference data).
func ExampleEngine_Generate() {
	e, err := engine.Load("../../shared/testdata/models/stories260K.gguf", engine.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	opts := engine.GenerateOptions{MaxTokens: 32} // zero SampleOptions: greedy
	_, err = e.Generate(context.Background(), "Once upon a time", opts, func(t engine.Token) error {
		fmt.Print(t.Text)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output: , there was a little girl named Lily. She loved to play outside in the park. One day, she saw
}
