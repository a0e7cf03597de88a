//go:build !purego

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"
)

//go:noescape
func dotAVX(a, b *float32, n int) float32

//go:noescape
func axpyAVX(y *float32, a float32, x *float32, n int)

var useAVX = cpu.X86.HasAVX2 && os.Getenv("SHIMMER_NOSIMD") == ""

// Dot returns Σ a[i]·b[i] summed in eight lanes, like SIMD code.
func Dot(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	if useAVX && n > 0 {
		return dotAVX(&a[0], &b[0], n)
	}
	return dotGeneric(a, b)
}

// AXPY adds a·x to y.
func AXPY(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	if useAVX && len(y) > 0 {
		axpyAVX(&y[0], a, &x[0], len(y))
		return
	}
	axpyGeneric(y, a, x)
}

//go:noescape
func scaleAVX(x *float32, s float32, n int)

// Scale multiplies x by s.
func Scale(x []float32, s float32) {
	if useAVX && len(x) > 0 {
		scaleAVX(&x[0], s, len(x))
		return
	}
	scaleGeneric(x, s)
}

//go:noescape
func dotRowsAVX(q, k *float32, kstride, n, dim int, out *float32)

//go:noescape
func axpyRowsAVX(o, p, v *float32, vstride, n, dim int)

// DotRows sets out[i] = Dot(q, k[i·stride:i·stride+len(q)]) for i <
// len(out).
func DotRows(out, q, k []float32, stride int) {
	dim := len(q)
	if len(out) == 0 {
		return
	}
	_ = k[(len(out)-1)*stride+dim-1]
	if useAVX && dim%8 == 0 && dim > 0 {
		dotRowsAVX(&q[0], &k[0], stride, len(out), dim, &out[0])
		return
	}
	dotRowsGeneric(out, q, k, stride)
}

// AXPYRows adds p[i]·v[i·stride:i·stride+len(o)] to o for each i in order,
// as len(p) calls of AXPY would.
func AXPYRows(o, p, v []float32, stride int) {
	dim := len(o)
	if len(p) == 0 {
		return
	}
	_ = v[(len(p)-1)*stride+dim-1]
	if useAVX && dim%8 == 0 && dim > 0 {
		axpyRowsAVX(&o[0], &p[0], &v[0], stride, len(p), dim)
		return
	}
	axpyRowsGeneric(o, p, v, stride)
}

//go:noescape
func expSubAVX512(dst, src *float32, n int, sub float32)

//go:noescape
func swigluAVX512(dst, gate, up *float32, n int)

// useAVX512 enables the float64-precision vector exponential (Softmax,
// SwiGLU): its float32 results are those of float32(math.Exp(x)) but for
// values within ~1e-16 of a rounding boundary (≤ 1 ulp apart then).
var useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL && os.Getenv("SHIMMER_NOSIMD") == ""

func expSub(dst, src []float32, sub float32) {
	n := len(src) &^ 7
	dst = dst[:len(src)]
	if useAVX512 && n > 0 {
		expSubAVX512(&dst[0], &src[0], n, sub)
	} else {
		n = 0
	}
	expSubGeneric(dst[n:], src[n:], sub)
}

func swiglu(dst, gate, up []float32) {
	n := len(gate) &^ 7
	dst, up = dst[:len(gate)], up[:len(gate)]
	if useAVX512 && n > 0 {
		swigluAVX512(&dst[0], &gate[0], &up[0], n)
	} else {
		n = 0
	}
	swigluGeneric(dst[n:], gate[n:], up[n:])
}
