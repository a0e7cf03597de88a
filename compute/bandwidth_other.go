//go:build !amd64 || purego

package compute

import "unsafe"

func readSum(b []byte) uint64 { return readSumGeneric(b) }

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
