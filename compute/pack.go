package compute

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/shimmer-llm/shimmer/gguf"
	"github.com/shimmer-llm/shimmer/quant"
)

// Repacking for the int8 tile kernels. A group of 16 weight rows becomes,
// per block of 32 columns, the 16 f16 scales (32 bytes) followed by chunks
// of 64 bytes, each holding 4 consecutive quant bytes of row 0, then of
// row 1, …, row 15:
//
//	Q4_0: 4 chunks; chunk c holds bytes 4c..4c+3 of each row's 16 nibble
//	      bytes (low nibbles: columns 4c..4c+3, high: 16+4c..16+4c+3).
//	Q8_0: 8 chunks; chunk c holds columns 4c..4c+3, each value + 128 (as
//	      u8, for VPDPBUSD's unsigned operand).
//
// A group takes exactly the bytes of its 16 rows, so the packed copy is the
// size of the tensor. It is made once, the first time the matrix is
// multiplied (the file mapping stays as it is: embedding lookups read it).

type packJob struct {
	w   *Matrix
	src []byte // the rows, padded with zero rows to whole groups
	dst []byte
}

// Q4_K and Q6_K get their own layouts (see q4kKernel16 and q6kKernel in
// _asm): scales and mins unpacked to bytes, Q6_K's 6-bit values to whole
// bytes (4384 bytes per 16 rows and 256 columns instead of 3360: +30% for
// Q6_K tensors; Q4_K: 2368 instead of 2304).

// packRows is how many rows a packed group holds: the kernel's rows (8 or
// 16) for the int8 kernels, 4 for the float kernels (F16/BF16: per 16 columns the 4 rows'
// 32 bytes in order; rows past the last whole group stay in the file).
func packRows(w *Matrix) int {
	if w.k.int8 {
		return w.k.rows
	}
	return 4
}

// packedGroupBytes is the size of a packed group.
func packedGroupBytes(w *Matrix) int {
	if !w.k.int8 {
		return 4 * w.rowBytes
	}
	switch w.k.kquant {
	case 4:
		if w.Type == gguf.TypeQ5_K {
			return w.Cols / 256 * 1440
		}
		return w.Cols / 256 * 148 * w.k.rows
	case 6:
		return w.Cols / 256 * 274 * w.k.rows
	}
	if w.Type == gguf.TypeMXFP4 {
		return w.Cols / 32 * mxfp4PackedBlock
	}
	return w.k.rows * w.rowBytes
}

// pack fills w.packed using the pool (the caller holds p.mu).
func (p *Pool) pack(w *Matrix) {
	n := w.Rows / packRows(w)
	src := w.Data
	if w.k.int8 && w.Rows%w.k.rows != 0 {
		// The int8 kernels work on whole groups: the last one gets zero
		// rows (their outputs are dropped, see tileJob.rows).
		n++
		src = make([]byte, n*w.k.rows*w.rowBytes)
		copy(src, w.Data)
	}
	j := &packJob{w: w, src: src, dst: hugeBytes(n * packedGroupBytes(w))}
	p.runLocked(j, n, 0)
	w.packed = j.dst
}

func (j *packJob) Run(_, lo, hi int) {
	w := j.w
	if !w.k.int8 {
		rb := w.rowBytes
		for g := lo; g < hi; g++ {
			dst := j.dst[g*4*rb : (g+1)*4*rb]
			for s := 0; s < rb/32; s++ {
				for r := 0; r < 4; r++ {
					copy(dst[128*s+32*r:128*s+32*r+32], w.Data[(4*g+r)*rb+32*s:])
				}
			}
		}
		return
	}
	if w.k.bf16 {
		j.packBF16(lo, hi)
		return
	}
	switch w.k.kquant {
	case 4:
		j.packQ45K(lo, hi)
		return
	case 6:
		j.packQ6K(lo, hi)
		return
	}
	if w.Type == gguf.TypeMXFP4 {
		j.packMXFP4(lo, hi)
		return
	}
	nb := w.Cols / 32
	bb := w.k.blockBytes
	q8 := w.k.blockBytes == 34
	var bias byte
	if w.k.offset == 128 {
		bias = 0x80 // VPDPBUSD's unsigned operand; the AVX2 kernels keep the sign
	}
	R := w.k.rows
	for g := lo; g < hi; g++ {
		for b := 0; b < nb; b++ {
			dst := j.dst[(g*nb+b)*R*bb : (g*nb+b+1)*R*bb]
			for r := 0; r < R; r++ {
				src := j.src[(R*g+r)*w.rowBytes+b*bb:]
				dst[2*r], dst[2*r+1] = src[0], src[1]
				if q8 {
					for c := 0; c < 8; c++ {
						for i := 0; i < 4; i++ {
							dst[2*R+4*R*c+4*r+i] = src[2+4*c+i] ^ bias
						}
					}
					continue
				}
				for c := 0; c < 4; c++ {
					o := 2*R + 4*R*c + 4*r
					copy(dst[o:o+4], src[2+4*c:2+4*c+4])
				}
			}
		}
	}
}

// mxfp4PackedBlock is the packed size of one MXFP4 block of 8 rows: the
// rows' scales 2^(e-128) as float32 (32 bytes), then 4 chunks laid out as
// Q4_0's.
const mxfp4PackedBlock = 32 + 8*16

func (j *packJob) packMXFP4(lo, hi int) {
	w := j.w
	nb := w.Cols / 32
	for g := lo; g < hi; g++ {
		for b := 0; b < nb; b++ {
			dst := j.dst[(g*nb+b)*mxfp4PackedBlock : (g*nb+b+1)*mxfp4PackedBlock]
			for r := 0; r < 8; r++ {
				src := j.src[(8*g+r)*w.rowBytes+b*17:]
				binary.LittleEndian.PutUint32(dst[4*r:], math.Float32bits(quant.E8M0Half(src[0])))
				for c := 0; c < 4; c++ {
					o := 32 + 32*c + 4*r
					copy(dst[o:o+4], src[1+4*c:1+4*c+4])
				}
			}
		}
	}
}

func (j *packJob) packQ6K(lo, hi int) {
	w := j.w
	gb := packedGroupBytes(w)
	const R = 16
	var q [R][256]uint8
	for g := lo; g < hi; g++ {
		for b := 0; b < w.Cols/256; b++ {
			dst := j.dst[g*gb+b*274*R : g*gb+(b+1)*274*R]
			for r := 0; r < R; r++ {
				blk := j.src[(R*g+r)*w.rowBytes+b*210:]
				unpackQ6KBytes(&q[r], blk)
				dst[2*r], dst[2*r+1] = blk[208], blk[209]
			}
			for grp := 0; grp < 16; grp++ {
				o := dst[2*R+17*R*grp:]
				for r := 0; r < R; r++ {
					o[r] = j.src[(R*g+r)*w.rowBytes+b*210+192+grp]
				}
				for c := 0; c < 4; c++ {
					for r := 0; r < R; r++ {
						copy(o[R+4*R*c+4*r:R+4*R*c+4*r+4], q[r][16*grp+4*c:16*grp+4*c+4])
					}
				}
			}
		}
	}
}

// unpackQ6KBytes decodes a Q6_K block's 256 values as q+32 (0..63).
func unpackQ6KBytes(q *[256]uint8, blk []byte) {
	for h := 0; h < 2; h++ {
		ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
		o := q[128*h : 128*h+128]
		for l := 0; l < 32; l++ {
			o[l] = ql[l]&15 | (qh[l]&3)<<4
			o[l+32] = ql[l+32]&15 | (qh[l]>>2&3)<<4
			o[l+64] = ql[l]>>4 | (qh[l]>>4&3)<<4
			o[l+96] = ql[l+32]>>4 | (qh[l]>>6&3)<<4
		}
	}
}

// scaleMinK4 reads the 6-bit scale and min of group j (as quant does).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&15 | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// packQ45K packs Q4_K, or Q5_K with its fifth bits after each pair of
// groups (see q4kKernel16 and q5kKernel in _asm).
func (j *packJob) packQ45K(lo, hi int) {
	w := j.w
	gb := packedGroupBytes(w)
	q5 := w.Type == gguf.TypeQ5_K
	R := w.k.rows // 16 for Q4_K, 8 for Q5_K
	bb, sb, qsOff, pair := 144, 148*R, 16, 34*R
	if q5 {
		bb, sb, qsOff, pair = 176, 1440, 48, 336
	}
	for g := lo; g < hi; g++ {
		for b := 0; b < w.Cols/256; b++ {
			dst := j.dst[g*gb+b*sb : g*gb+(b+1)*sb]
			if q5 {
				clear(dst)
			}
			for r := 0; r < R; r++ {
				blk := j.src[(R*g+r)*w.rowBytes+b*bb:]
				dst[2*r], dst[2*r+1] = blk[0], blk[1]         // d
				dst[2*R+2*r], dst[2*R+2*r+1] = blk[2], blk[3] // dmin
				for jj := 0; jj < 8; jj++ {
					sc, m := scaleMinK4(jj, blk[4:16])
					dst[4*R+R*jj+r] = m
					k, h := jj/2, jj%2
					dst[12*R+pair*k+R*h+r] = sc
				}
				for k := 0; k < 4; k++ {
					for c := 0; c < 8; c++ {
						o := 12*R + pair*k + 2*R + 4*R*c + 4*r
						copy(dst[o:o+4], blk[qsOff+32*k+4*c:qsOff+32*k+4*c+4])
						if !q5 {
							continue
						}
						qh := blk[16:48]
						for i := 0; i < 4; i++ {
							for hl := 0; hl < 2; hl++ {
								e := 64*k + 32*hl + 4*c + i
								if qh[e%32]>>(e/32)&1 != 0 {
									dst[96+pair*k+272+8*c+4*hl+(4*r+i)/8] |= 1 << ((4*r + i) % 8)
								}
							}
						}
					}
				}
			}
		}
	}
}

// packBF16 lays out groups of 16 BF16 rows for the pair kernels: per
// block of 32 columns, 16 chunks of 64 bytes, chunk c holding the 4 bytes
// of columns 2c and 2c+1 of each row in turn.
//
// An F16 matrix multiplied as BF16 (MultiplyAsBF16) has each group's
// values rounded to BF16 first (F16 → float32 exactly, then to nearest
// even).
func (j *packJob) packBF16(lo, hi int) {
	w := j.w
	pairs := w.Cols / 2 // per row
	src := unsafe.Slice((*uint32)(unsafe.Pointer(&j.src[0])), len(j.src)/4)
	dst := unsafe.Slice((*uint32)(unsafe.Pointer(&j.dst[0])), len(j.dst)/4)
	var f32 []float32
	var bf []uint32
	if w.asBF16 {
		f32, bf = make([]float32, 16*w.Cols), make([]uint32, 16*pairs)
	}
	for g := lo; g < hi; g++ {
		d := dst[16*g*pairs : 16*(g+1)*pairs]
		rows := src[16*g*pairs : 16*(g+1)*pairs]
		if w.asBF16 {
			h := unsafe.Slice((*uint16)(unsafe.Pointer(&rows[0])), 2*len(rows))
			quant.FP16ToFP32Row(f32, h)
			quant.FP32ToBF16Row(unsafe.Slice((*uint16)(unsafe.Pointer(&bf[0])), 2*len(bf)), f32)
			rows = bf
		}
		for p := 0; p < pairs; p++ {
			o := d[16*p : 16*p+16 : 16*p+16]
			for r := range o {
				o[r] = rows[r*pairs+p]
			}
		}
	}
}
