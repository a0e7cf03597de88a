//go:build purego

package main

// buildTags builds the CLI under test with the same tag as the tests.
var buildTags = []string{"-tags", "purego"}
