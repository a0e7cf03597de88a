//go:build !purego

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAttnAVX512 selects the AVX-512 attention kernels (gen_attn_amd64.s),
// useAttnAVX2 the AVX2 ones (one row at a time) on CPUs without AVX-512.
var (
	useAttnAVX512 = cpu.X86.HasAVX512F && os.Getenv("SHIMMER_NOSIMD") == ""
	useAttnAVX2   = !useAttnAVX512 && cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C && os.Getenv("SHIMMER_NOSIMD") == ""
)

func attnScores(out, q []float32, rows, qs int, kt []float32, dim int) {
	if useAttnAVX2 {
		for r := 0; r < rows; r++ {
			attnScoresF32AVX2(&out[r*AttnBlock], &q[r*qs], 4*qs, &kt[0], dim)
		}
		return
	}
	if !useAttnAVX512 {
		attnScoresGeneric(out, q, rows, qs, kt, dim)
		return
	}
	for r := 0; r < rows; r += 4 {
		n := min(4, rows-r)
		attnScoresTabF32[n-1](&out[r*AttnBlock], &q[r*qs], 4*qs, &kt[0], dim)
	}
}

func attnScoresF16(out, q []float32, rows, qs int, kt []uint16, dim int) {
	if useAttnAVX2 {
		for r := 0; r < rows; r++ {
			attnScoresF16AVX2(&out[r*AttnBlock], &q[r*qs], 4*qs, &kt[0], dim)
		}
		return
	}
	if !useAttnAVX512 {
		attnScoresF16Generic(out, q, rows, qs, kt, dim)
		return
	}
	for r := 0; r < rows; r += 4 {
		n := min(4, rows-r)
		attnScoresTabF16[n-1](&out[r*AttnBlock], &q[r*qs], 4*qs, &kt[0], dim)
	}
}

func attnPV(o []float32, rows, os int, p, v []float32, vs, n, dim int) {
	if useAttnAVX2 && dim%8 == 0 {
		for r := 0; r < rows; r++ {
			for c := 0; c < dim; c += 64 {
				attnPVAVX2TabF32[min(8, (dim-c)/8)-1](&o[r*os+c], 4*os, &p[r*AttnBlock], &v[c], 4*vs, n)
			}
		}
		return
	}
	if !useAttnAVX512 || dim%16 != 0 {
		attnPVGeneric(o, rows, os, p, v, vs, n, dim)
		return
	}
	for r := 0; r < rows; r += 4 {
		nr := min(4, rows-r)
		for c := 0; c < dim; c += 64 {
			nc := min(4, (dim-c)/16)
			attnPVTabF32[nr-1][nc-1](&o[r*os+c], 4*os, &p[r*AttnBlock], &v[c], 4*vs, n)
		}
	}
}

func attnPVF16(o []float32, rows, os int, p []float32, v []uint16, vs, n, dim int) {
	if useAttnAVX2 && dim%8 == 0 {
		for r := 0; r < rows; r++ {
			for c := 0; c < dim; c += 64 {
				attnPVAVX2TabF16[min(8, (dim-c)/8)-1](&o[r*os+c], 4*os, &p[r*AttnBlock], &v[c], 2*vs, n)
			}
		}
		return
	}
	if !useAttnAVX512 || dim%16 != 0 {
		attnPVF16Generic(o, rows, os, p, v, vs, n, dim)
		return
	}
	for r := 0; r < rows; r += 4 {
		nr := min(4, rows-r)
		for c := 0; c < dim; c += 64 {
			nc := min(4, (dim-c)/16)
			attnPVTabF16[nr-1][nc-1](&o[r*os+c], 4*os, &p[r*AttnBlock], &v[c], 2*vs, n)
		}
	}
}

//go:noescape
func scaleMax64AVX512(x *float32, s float32) float32

//go:noescape
func expRowsAVX512(x *float32, m *float32, rows int)

func expRows(x []float32, m []float32, rows int) {
	if useAttnAVX512 {
		expRowsAVX512(&x[0], &m[0], rows)
		return
	}
	expRowsGeneric(x, m, rows)
}

//go:noescape
func sum64AVX512(x *float32) float64

func scaleMax64(x *[AttnBlock]float32, s float32) float32 {
	if useAttnAVX512 {
		return scaleMax64AVX512(&x[0], s)
	}
	return scaleMax64Generic(x, s)
}

func sum64(x *[AttnBlock]float32) float64 {
	if useAttnAVX512 {
		return sum64AVX512(&x[0])
	}
	return sum64Generic(x)
}

//go:noescape
func dequantQ8TAVX512(dst *float32, q *int8, s *uint16, groups int)

//go:noescape
func dequantQ8AVX512(dst *float32, q *int8, s *uint16, blocks int)

func dequantQ8T(dst []float32, q []int8, s []uint16, rows int) {
	if useAttnAVX512 && rows%32 == 0 {
		dequantQ8TAVX512(&dst[0], &q[0], &s[0], rows/32)
		return
	}
	dequantQ8TGeneric(dst, q, s, rows)
}

func dequantQ8(dst []float32, q []int8, s []uint16) {
	if useAttnAVX512 && len(dst)%32 == 0 {
		dequantQ8AVX512(&dst[0], &q[0], &s[0], len(dst)/32)
		return
	}
	dequantQ8Generic(dst, q, s)
}

//go:noescape
func f16RowsAVX512(dst *float32, src *uint16, rows, chunks, stride int)

func f16Rows(dst []float32, src []uint16, rows, cols, stride int) {
	if useAttnAVX512 && cols%16 == 0 {
		f16RowsAVX512(&dst[0], &src[0], rows, cols/16, 2*stride)
		return
	}
	f16RowsGeneric(dst, src, rows, cols, stride)
}
