//go:build !purego

package kernels

const haveSIMD = true
