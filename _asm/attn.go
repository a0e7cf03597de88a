package main

import (
	"fmt"
)

// Attention kernels (kernels/gen_attn_amd64.s). Keys are cached in blocks
// of 64 positions transposed, element (d, j) of a block at d·64 + j, so a
// query row's 64 scores are 4 Z accumulators that each take one
// broadcast query element times 16 keys per step:
//
//	s[r][j] = fma(q[r][d], k[d][j], s[r][j])   for d = 0, 1, …
//
// and values stay row-major, a row's output chunk of 16 taking one
// broadcast probability times 16 value elements per step:
//
//	o[r][c] = fma(p[r][j], v[j][c], o[r][c])   for j = 0, 1, …
//
// Each row's operations are the same and in the same order whatever the
// number of rows (1 to 4) handled together, and the same as the generic
// code's (math.FMA in the same order), so results are bit-identical to it.

// attnScores writes a scores kernel for R query rows and keys of kind
// F32 or F16:
//
//	func attnScores<kind>x<R>(out, q *float32, qstride int, kt *T, d int)
//
// out: R rows of 64 (256 bytes apart); q rows qstride bytes apart; d ≥ 1.
func (g *gen) attnScores(kind string, R int) string {
	name := fmt.Sprintf("attnScores%sx%d", kind, R)
	ptr := "float32"
	step := 256
	if kind == "F16" {
		ptr, step = "uint16", 128
	}
	fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(out, q *float32, qstride int, kt *%s, d int)\n", name, ptr)
	fmt.Fprintf(&g.s, "\n// func %s(out, q *float32, qstride int, kt *%s, d int)\nTEXT ·%s(SB), NOSPLIT, $0-40\n", name, ptr, name)
	g.i("MOVQ out+0(FP), DI")
	g.i("MOVQ q+8(FP), SI")
	g.i("MOVQ qstride+16(FP), R8")
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("MOVQ kt+24(FP), DX")
	g.i("MOVQ d+32(FP), CX")
	for a := 0; a < 4*R; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	loop := name + "_loop"
	g.label(loop)
	for b := 0; b < 4; b++ {
		if kind == "F16" {
			g.i("VCVTPH2PS %d(DX), Z%d", 32*b, 16+b)
		} else {
			g.i("VMOVUPS %d(DX), Z%d", 64*b, 16+b)
		}
	}
	for r := 0; r < R; r++ {
		g.i("VBROADCASTSS %s, Z%d", rowOf("SI", "R8", "R9", r, 0), 20+r)
	}
	for r := 0; r < R; r++ {
		for b := 0; b < 4; b++ {
			g.i("VFMADD231PS Z%d, Z%d, Z%d", 16+b, 20+r, 4*r+b)
		}
	}
	g.i("ADDQ $4, SI")
	g.i("ADDQ $%d, DX", step)
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	for r := 0; r < R; r++ {
		for b := 0; b < 4; b++ {
			g.i("VMOVUPS Z%d, %d(DI)", 4*r+b, 256*r+64*b)
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// attnPV writes a kernel adding probability-weighted value rows to R
// output rows, C chunks of 16 columns each:
//
//	func attnPV<kind>x<R>c<C>(o *float32, ostride int, p *float32, v *T, vstride, n int)
//
// o rows ostride bytes apart; p: R rows of 64 (256 bytes apart), entries
// 0..n-1 used; v rows vstride bytes apart; n ≥ 1.
func (g *gen) attnPV(kind string, R, C int) string {
	name := fmt.Sprintf("attnPV%sx%dc%d", kind, R, C)
	ptr, chunk := "float32", 64
	if kind == "F16" {
		ptr, chunk = "uint16", 32
	}
	fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(o *float32, ostride int, p *float32, v *%s, vstride, n int)\n", name, ptr)
	fmt.Fprintf(&g.s, "\n// func %s(o *float32, ostride int, p *float32, v *%s, vstride, n int)\nTEXT ·%s(SB), NOSPLIT, $0-48\n", name, ptr, name)
	g.i("MOVQ o+0(FP), DI")
	g.i("MOVQ ostride+8(FP), SI")
	g.i("LEAQ (SI)(SI*2), R11")
	g.i("MOVQ p+16(FP), DX")
	g.i("MOVQ v+24(FP), BX")
	g.i("MOVQ vstride+32(FP), R10")
	g.i("MOVQ n+40(FP), CX")
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			g.i("VMOVUPS %s, Z%d", rowOf("DI", "SI", "R11", r, 64*c), r*C+c)
		}
	}
	loop := name + "_loop"
	g.label(loop)
	for c := 0; c < C; c++ {
		if kind == "F16" {
			g.i("VCVTPH2PS %d(BX), Z%d", chunk*c, 16+c)
		} else {
			g.i("VMOVUPS %d(BX), Z%d", chunk*c, 16+c)
		}
	}
	for r := 0; r < R; r++ {
		g.i("VBROADCASTSS %d(DX), Z%d", 256*r, 20+r)
	}
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			g.i("VFMADD231PS Z%d, Z%d, Z%d", 16+c, 20+r, r*C+c)
		}
	}
	g.i("ADDQ $4, DX")
	g.i("ADDQ R10, BX")
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			g.i("VMOVUPS Z%d, %s", r*C+c, rowOf("DI", "SI", "R11", r, 64*c))
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// rowOf is the address of row r plus off from base, rows stride bytes
// apart (stride3 = 3·stride).
func rowOf(base, stride, stride3 string, r, off int) string {
	switch r {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride)
	case 2:
		return fmt.Sprintf("%d(%s)(%s*2)", off, base, stride)
	}
	return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride3)
}

// attnKernels writes every attention kernel and the tables that list
// them: attnScoresTab<kind>[R-1] and attnPVTab<kind>[R-1][C-1].
func (g *gen) attnKernels() {
	for _, kind := range []string{"F32", "F16"} {
		var scores []string
		for R := 1; R <= 4; R++ {
			scores = append(scores, g.attnScores(kind, R))
		}
		var pv [4][4]string
		for R := 1; R <= 4; R++ {
			for C := 1; C <= 4; C++ {
				pv[R-1][C-1] = g.attnPV(kind, R, C)
			}
		}
		ptr := "float32"
		if kind == "F16" {
			ptr = "uint16"
		}
		fmt.Fprintf(&g.g, "\nvar attnScoresTab%s = [4]func(out, q *float32, qstride int, kt *%s, d int){%s, %s, %s, %s}\n",
			kind, ptr, scores[0], scores[1], scores[2], scores[3])
		fmt.Fprintf(&g.g, "\nvar attnPVTab%s = [4][4]func(o *float32, ostride int, p *float32, v *%s, vstride, n int){\n", kind, ptr)
		for R := 0; R < 4; R++ {
			fmt.Fprintf(&g.g, "\t{%s, %s, %s, %s},\n", pv[R][0], pv[R][1], pv[R][2], pv[R][3])
		}
		g.g.WriteString("}\n")
	}
}

// attnScoresAVX2 is attnScores for CPUs without AVX-512: one query row,
// the 64 scores in 8 Y accumulators (the same per-lane FMA order).
func (g *gen) attnScoresAVX2(kind string) string {
	name := fmt.Sprintf("attnScores%sAVX2", kind)
	ptr, step := "float32", 256
	if kind == "F16" {
		ptr, step = "uint16", 128
	}
	fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(out, q *float32, qstride int, kt *%s, d int)\n", name, ptr)
	fmt.Fprintf(&g.s, "\n// func %s(out, q *float32, qstride int, kt *%s, d int)\nTEXT ·%s(SB), NOSPLIT, $0-40\n", name, ptr, name)
	g.i("MOVQ out+0(FP), DI")
	g.i("MOVQ q+8(FP), SI")
	g.i("MOVQ kt+24(FP), DX")
	g.i("MOVQ d+32(FP), CX")
	for a := 0; a < 8; a++ {
		g.i("VXORPS Y%d, Y%d, Y%d", a, a, a)
	}
	loop := name + "_loop"
	g.label(loop)
	g.i("VBROADCASTSS (SI), Y15")
	for b := 0; b < 8; b++ {
		if kind == "F16" {
			g.i("VCVTPH2PS %d(DX), Y14", 16*b)
			g.i("VFMADD231PS Y14, Y15, Y%d", b)
		} else {
			g.i("VFMADD231PS %d(DX), Y15, Y%d", 32*b, b)
		}
	}
	g.i("ADDQ $4, SI")
	g.i("ADDQ $%d, DX", step)
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	for b := 0; b < 8; b++ {
		g.i("VMOVUPS Y%d, %d(DI)", b, 32*b)
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// attnPVAVX2 is attnPV for CPUs without AVX-512: one output row, C chunks
// of 8 columns.
func (g *gen) attnPVAVX2(kind string, C int) string {
	name := fmt.Sprintf("attnPV%sAVX2c%d", kind, C)
	ptr, chunk := "float32", 32
	if kind == "F16" {
		ptr, chunk = "uint16", 16
	}
	fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(o *float32, ostride int, p *float32, v *%s, vstride, n int)\n", name, ptr)
	fmt.Fprintf(&g.s, "\n// func %s(o *float32, ostride int, p *float32, v *%s, vstride, n int)\nTEXT ·%s(SB), NOSPLIT, $0-48\n", name, ptr, name)
	g.i("MOVQ o+0(FP), DI")
	g.i("MOVQ p+16(FP), DX")
	g.i("MOVQ v+24(FP), BX")
	g.i("MOVQ vstride+32(FP), R10")
	g.i("MOVQ n+40(FP), CX")
	for c := 0; c < C; c++ {
		g.i("VMOVUPS %d(DI), Y%d", 32*c, c)
	}
	loop := name + "_loop"
	g.label(loop)
	g.i("VBROADCASTSS (DX), Y15")
	for c := 0; c < C; c++ {
		if kind == "F16" {
			g.i("VCVTPH2PS %d(BX), Y14", chunk*c)
			g.i("VFMADD231PS Y14, Y15, Y%d", c)
		} else {
			g.i("VFMADD231PS %d(BX), Y15, Y%d", chunk*c, c)
		}
	}
	g.i("ADDQ $4, DX")
	g.i("ADDQ R10, BX")
	g.i("DECQ CX")
	g.i("JNZ %s", loop)
	for c := 0; c < C; c++ {
		g.i("VMOVUPS Y%d, %d(DI)", c, 32*c)
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// attnKernelsAVX2 writes the AVX2 attention kernels and their tables:
// attnScoresAVX2<kind> and attnPVAVX2Tab<kind>[C-1].
func (g *gen) attnKernelsAVX2() {
	for _, kind := range []string{"F32", "F16"} {
		g.attnScoresAVX2(kind)
		var pv []string
		for C := 1; C <= 8; C++ {
			pv = append(pv, g.attnPVAVX2(kind, C))
		}
		ptr := "float32"
		if kind == "F16" {
			ptr = "uint16"
		}
		fmt.Fprintf(&g.g, "\nvar attnPVAVX2Tab%s = [8]func(o *float32, ostride int, p *float32, v *%s, vstride, n int){", kind, ptr)
		for i, n := range pv {
			if i > 0 {
				g.g.WriteString(", ")
			}
			g.g.WriteString(n)
		}
		g.g.WriteString("}\n")
	}
}
