package kernels

import "math"

// RopeAngles writes the cos/sin pairs of the rotary embedding of position
// pos into cs (n/2 pairs, cs[2i] = cos, cs[2i+1] = sin) for n rotated
// dimensions. theta_i = pos·base^(-2i/n)/factors[i]·freqScale, built by
// repeated multiplication as ggml does; factors may be nil.
func RopeAngles(cs []float32, pos int, n int, base, freqScale float32, factors []float32) {
	RopeAnglesYaRN(cs, pos, n, base, freqScale, factors, YaRN{MScale: 1})
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

// YaRN holds the parameters of YaRN rope scaling for RopeAnglesYaRN:
// the correction range [Low, High] of rotary dimensions (pairs) between
// extrapolated and interpolated frequencies, the extrapolation mix and the
// magnitude scale of cos and sin (both as ggml's rope computes them).
type YaRN struct {
	Low, High float32
	ExtFactor float32
	MScale    float32
}

// RopeAnglesYaRN is RopeAngles with YaRN scaling (ggml's rope_yarn): pair
// i mixes the interpolated angle freqScale·θ and the original θ by a ramp
// over [Low, High], and cos and sin are multiplied by MScale. With
// ExtFactor 0 and MScale 1 it is RopeAngles (the products by 1 are exact).
func RopeAnglesYaRN(cs []float32, pos int, n int, base, freqScale float32, factors []float32, y YaRN) {
	thetaScale := float32(math.Pow(float64(base), -2.0/float64(n)))
	theta := float32(pos)
	for i := 0; i < n/2; i++ {
		extrap := theta
		if factors != nil {
			extrap /= factors[i]
		}
		interp := freqScale * extrap
		t := interp
		if y.ExtFactor != 0 {
			r := (float32(i) - y.Low) / max(0.001, y.High-y.Low)
			mix := (1 - min(1, max(0, r))) * y.ExtFactor
			t = interp*(1-mix) + extrap*mix
		}
		cs[2*i] = float32(math.Cos(float64(t))) * y.MScale
		cs[2*i+1] = float32(math.Sin(float64(t))) * y.MScale
		theta *= thetaScale
	}
}
