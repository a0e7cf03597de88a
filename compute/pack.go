package compute

// Repacking for the int8 tile kernels. A group of 8 weight rows becomes,
// per block of 32 columns, the 8 f16 scales (16 bytes) followed by chunks
// of 32 bytes, each holding 4 consecutive quant bytes of row 0, then of
// row 1, …, row 7:
//
//	Q4_0: 4 chunks; chunk c holds bytes 4c..4c+3 of each row's 16 nibble
//	      bytes (low nibbles: columns 4c..4c+3, high: 16+4c..16+4c+3).
//	Q8_0: 8 chunks; chunk c holds columns 4c..4c+3, each value + 128 (as
//	      u8, for VPDPBUSD's unsigned operand).
//
// A group takes exactly the bytes of its 8 rows, so the packed copy is the
// size of the tensor. It is made once, the first time the matrix is
// multiplied (the file mapping stays as it is: embedding lookups read it).

type packJob struct {
	w   *Matrix
	dst []byte
}

// pack fills w.packed using the pool (the caller holds p.mu).
func (p *Pool) pack(w *Matrix) {
	j := &packJob{w: w, dst: make([]byte, len(w.Data))}
	p.runLocked(j, w.Rows/8, 0)
	w.packed = j.dst
}

func (j *packJob) Run(_, lo, hi int) {
	w := j.w
	nb := w.Cols / 32
	bb := w.k.blockBytes
	q8 := w.k.offset == 128
	for g := lo; g < hi; g++ {
		for b := 0; b < nb; b++ {
			dst := j.dst[(g*nb+b)*8*bb : (g*nb+b+1)*8*bb]
			for r := 0; r < 8; r++ {
				src := w.Data[(8*g+r)*w.rowBytes+b*bb:]
				dst[2*r], dst[2*r+1] = src[0], src[1]
				if q8 {
					for c := 0; c < 8; c++ {
						for i := 0; i < 4; i++ {
							dst[16+32*c+4*r+i] = src[2+4*c+i] ^ 0x80
						}
					}
					continue
				}
				for c := 0; c < 4; c++ {
					copy(dst[16+32*c+4*r:16+32*c+4*r+4], src[2+4*c:2+4*c+4])
				}
			}
		}
	}
}
