//go:build purego || !amd64

package kernels

// Dot returns Σ a[i]·b[i] summed in eight lanes, like SIMD code.
func Dot(a, b []float32) float32 { return dotGeneric(a, b) }

// AXPY adds a·x to y.
func AXPY(y []float32, a float32, x []float32) { axpyGeneric(y, a, x[:len(y)]) }

// Scale multiplies x by s.
func Scale(x []float32, s float32) { scaleGeneric(x, s) }

// DotRows sets out[i] = Dot(q, k[i·stride:i·stride+len(q)]) for i <
// len(out).
func DotRows(out, q, k []float32, stride int) { dotRowsGeneric(out, q, k, stride) }

// AXPYRows adds p[i]·v[i·stride:i·stride+len(o)] to o for each i in order,
// as len(p) calls of AXPY would.
func AXPYRows(o, p, v []float32, stride int) { axpyRowsGeneric(o, p, v, stride) }

func expSub(dst, src []float32, sub float32) { expSubGeneric(dst, src, sub) }

func swiglu(dst, gate, up []float32) { swigluGeneric(dst, gate, up) }
