package compute

import "time"

// ReadBandwidth measures how fast the pool's threads read memory: a
// buffer of size bytes (huge pages where the kernel gives them, touched
// first so no page fault is timed) is read reps times, each thread
// reading its own 2 MiB pieces as two concurrent streams (the piece's two
// halves) with a kernel that loads whole cache lines and combines them
// cheaply (vector XOR on amd64), as the dual decode tiles read their
// weights: on the Xeon measured, two streams per thread read 32 GB/s and
// one 27. It returns the best rate of the reps in bytes per second.
func ReadBandwidth(p *Pool, size int, reps int) float64 {
	const piece = hugePage
	size = max(2*piece, size/piece*piece)
	b := hugeBytes(size) // whole huge pages: size is a multiple of them
	for i := range b {
		b[i] = byte(i)
	}
	j := &readJob{b: b, piece: piece, sink: make([]uint64, p.Threads()*8)}
	best := 0.0
	for r := 0; r < max(1, reps); r++ {
		t0 := time.Now()
		p.Run(j, size/piece, 1)
		if bw := float64(size) / time.Since(t0).Seconds(); bw > best {
			best = bw
		}
	}
	return best
}

type readJob struct {
	b     []byte
	piece int
	sink  []uint64 // one cache line per worker keeps the reads live
}

func (j *readJob) Run(worker, lo, hi int) {
	var acc uint64
	for i := lo; i < hi; i++ {
		p := j.b[i*j.piece : (i+1)*j.piece]
		acc ^= readSum2(p[:j.piece/2], p[j.piece/2:])
	}
	j.sink[worker*8] ^= acc
}

// readSumGeneric XORs b's 8-byte words, 4 streams at a time (len(b) a
// multiple of 32).
func readSumGeneric(b []byte) uint64 {
	var a0, a1, a2, a3 uint64
	for i := 0; i+32 <= len(b); i += 32 {
		a0 ^= le64(b[i:])
		a1 ^= le64(b[i+8:])
		a2 ^= le64(b[i+16:])
		a3 ^= le64(b[i+24:])
	}
	return a0 ^ a1 ^ a2 ^ a3
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
