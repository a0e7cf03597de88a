// Package sampling reproduces llama.cpp's token samplers exactly: its
// random numbers (std::mt19937 through libstdc++'s distributions), its
// candidate array (ids, logits, probabilities, sorted or not), each
// sampler's arithmetic in float32 or float64 where llama.cpp uses them,
// and its default chain (penalties → top-n-σ → top-k → typical → top-p →
// min-p → XTC → temperature → dist, or a mirostat), so that a seeded
// request on the same logits draws the same tokens as llama-server.
package sampling

import "math"

// MT19937 is the 32-bit Mersenne Twister of C++'s std::mt19937 (its
// algorithm and seeding are fixed by the C++ standard).
type MT19937 struct {
	mt [624]uint32
	i  int
}

// NewMT19937 returns a generator seeded as std::mt19937(seed).
func NewMT19937(seed uint32) *MT19937 {
	m := &MT19937{}
	m.Seed(seed)
	return m
}

// Seed re-seeds the generator as std::mt19937::seed(seed).
func (m *MT19937) Seed(seed uint32) {
	m.mt[0] = seed
	for i := 1; i < 624; i++ {
		prev := m.mt[i-1]
		m.mt[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	m.i = 624
}

// Uint32 returns the next number.
func (m *MT19937) Uint32() uint32 {
	if m.i >= 624 {
		m.twist()
	}
	y := m.mt[m.i]
	m.i++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

func (m *MT19937) twist() {
	const upper, lower = 0x80000000, 0x7fffffff
	for i := 0; i < 624; i++ {
		y := m.mt[i]&upper | m.mt[(i+1)%624]&lower
		v := m.mt[(i+397)%624] ^ y>>1
		if y&1 != 0 {
			v ^= 0x9908b0df
		}
		m.mt[i] = v
	}
	m.i = 0
}

// Float64 is libstdc++'s std::uniform_real_distribution<double>(0, 1) on
// this generator: generate_canonical<double, 53>, two draws (low word
// first) summed in double, divided by 2^64, kept below 1.
func (m *MT19937) Float64() float64 {
	sum := float64(m.Uint32())
	sum += float64(m.Uint32()) * 4294967296.0
	r := sum / 18446744073709551616.0
	if r >= 1 {
		r = math.Nextafter(1, 0)
	}
	return r
}

// Float32 is libstdc++'s std::uniform_real_distribution<float>(0, 1): one
// draw rounded to float, divided by 2^32, kept below 1.
func (m *MT19937) Float32() float32 {
	r := float32(m.Uint32()) / 4294967296.0
	if r >= 1 {
		r = math.Nextafter32(1, 0)
	}
	return r
}
