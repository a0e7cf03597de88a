//go:build !linux

package engine

// physicalMemory is unknown here: only Options.Memory bounds the cache.
func physicalMemory() int64 { return 0 }
