// Package kernels holds the float32 vector operations of the forward pass:
// dot products, norms, softmax, activations and rotary embeddings. Their
// numerics follow llama.cpp's CPU backend (sums of squares in float64,
// rotary angles by repeated multiplication) so logits match the reference.
package kernels

import "math"

// dotGeneric returns Σ a[i]·b[i] summed in eight lanes, like SIMD code:
// the lanes are added as ((l0+l4)+(l1+l5)) + ((l2+l6)+(l3+l7)) and the
// tail past a multiple of 8 goes to lane 0 in order.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var acc [8]float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x, y := a[i:i+8:i+8], b[i:i+8:i+8]
		acc[0] += x[0] * y[0]
		acc[1] += x[1] * y[1]
		acc[2] += x[2] * y[2]
		acc[3] += x[3] * y[3]
		acc[4] += x[4] * y[4]
		acc[5] += x[5] * y[5]
		acc[6] += x[6] * y[6]
		acc[7] += x[7] * y[7]
	}
	for ; i < n; i++ {
		acc[0] += a[i] * b[i]
	}
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

// RMSNorm writes x/rms(x)·w to dst (w may be nil for no weight). The sum of
// squares is accumulated in float64 as in ggml.
func RMSNorm(dst, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	// 1.0f/sqrtf(mean+eps): the square root rounded to float32 first, as in C.
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	if w == nil {
		for i, v := range x {
			dst[i] = v * scale
		}
		return
	}
	w = w[:len(x)]
	for i, v := range x {
		dst[i] = (v * scale) * w[i]
	}
}

// Softmax replaces x with softmax(x). The sum is accumulated in float64.
func Softmax(x []float32) { softmax(x, float32(math.Inf(-1)), false) }

// SoftmaxSink replaces x with softmax over x and one more logit sink that
// takes its share of the probability mass and is then dropped (attention
// sinks, as ggml's soft_max with sinks: the maximum includes the sink and
// its exp joins the float64 sum).
func SoftmaxSink(x []float32, sink float32) { softmax(x, sink, true) }

// softmax is Softmax with an optional sink; m starts at the sink (-Inf
// without one).
func softmax(x []float32, m float32, sink bool) {
	s := m
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	expSub(x, x, m)
	var sum float64
	for _, e := range x {
		sum += float64(e)
	}
	if sink {
		sum += float64(Exp(s - m))
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// SwiGLUOAI writes gpt-oss's clamped SwiGLU to dst: with g = min(gate,
// limit) and u = clamp(up, -limit, limit), g·sigmoid(alpha·g)·(u+1).
func SwiGLUOAI(dst, gate, up []float32, alpha, limit float32) {
	up = up[:len(gate)]
	dst = dst[:len(gate)]
	for i, g := range gate {
		g = min(g, limit)
		u := min(max(up[i], -limit), limit)
		dst[i] = g / (1 + Exp(alpha*-g)) * (u + 1)
	}
}

// ExpSum replaces x[i] with Exp(x[i] - m) (the vector exponential of
// Softmax) and returns their sum, added in order in float64.
func ExpSum(x []float32, m float32) float64 {
	expSub(x, x, m)
	var sum float64
	for _, e := range x {
		sum += float64(e)
	}
	return sum
}

// Exp is expf.
func Exp(x float32) float32 { return float32(math.Exp(float64(x))) }

// SwiGLU writes silu(gate)·up to dst.
func SwiGLU(dst, gate, up []float32) { swiglu(dst, gate, up) }

// expSubGeneric sets dst[i] = Exp(src[i] - sub).
func expSubGeneric(dst, src []float32, sub float32) {
	for i, v := range src {
		dst[i] = Exp(v - sub)
	}
}

func swigluGeneric(dst, gate, up []float32) {
	up = up[:len(gate)]
	dst = dst[:len(gate)]
	for i, g := range gate {
		dst[i] = g / (1 + Exp(-g)) * up[i]
	}
}

// Add adds src to dst.
func Add(dst, src []float32) {
	// 1·src is exact, so AXPY (vectorised where the CPU allows) adds.
	AXPY(dst, 1, src)
}

func scaleGeneric(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func axpyGeneric(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func dotRowsGeneric(out, q, k []float32, stride int) {
	for i := range out {
		out[i] = dotGeneric(q, k[i*stride:i*stride+len(q)])
	}
}

func axpyRowsGeneric(o, p, v []float32, stride int) {
	for i, a := range p {
		axpyGeneric(o, a, v[i*stride:i*stride+len(o)])
	}
}
