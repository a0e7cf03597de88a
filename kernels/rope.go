package kernels

import "math"

// RopeAngles writes the cos/sin pairs of the rotary embedding of position
// pos into cs (n/2 pairs, cs[2i] = cos, cs[2i+1] = sin) for n rotated
// dimensions. theta_i = pos·base^(-2i/n)/factors[i]·freqScale, built by
// repeated multiplication as ggml does; factors may be nil.
func RopeAngles(cs []float32, pos int, n int, base, freqScale float32, factors []float32) {
	thetaScale := float32(math.Pow(float64(base), -2.0/float64(n)))
	theta := float32(pos)
	for i := 0; i < n/2; i++ {
		t := theta
		if factors != nil {
			t /= factors[i]
		}
		t *= freqScale
		cs[2*i] = float32(math.Cos(float64(t)))
		cs[2*i+1] = float32(math.Sin(float64(t)))
		theta *= thetaScale
	}
}

// RopeNorm rotates consecutive pairs (x[2i], x[2i+1]) of one head by the
// angles in cs (see RopeAngles); dimensions past len(cs) are unchanged.
func RopeNorm(x, cs []float32) {
	for i := 0; i+1 < len(cs); i += 2 {
		c, s := cs[i], cs[i+1]
		x0, x1 := x[i], x[i+1]
		x[i] = x0*c - x1*s
		x[i+1] = x0*s + x1*c
	}
}

// RopeNeox rotates pairs (x[i], x[i+n/2]) of one head, n = len(cs) being the
// number of rotated dimensions.
func RopeNeox(x, cs []float32) {
	half := len(cs) / 2
	for i := 0; i < half; i++ {
		c, s := cs[2*i], cs[2*i+1]
		x0, x1 := x[i], x[i+half]
		x[i] = x0*c - x1*s
		x[i+half] = x0*s + x1*c
	}
}
