//go:build purego || !amd64

package kernels

const haveSIMD = false

// attnPaths runs f once: this build has only the generic kernels.
func attnPaths(f func(path string)) { f("generic") }
