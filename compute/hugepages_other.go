//go:build !linux

package compute

// adviseHugePages: transparent huge pages are a Linux feature.
func adviseHugePages([]byte) {}
