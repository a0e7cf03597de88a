// Command _asm generates shimmer's x86-64 assembly kernels (Go assembler
// syntax). The kernels are tiles of R weight rows × T tokens whose inner
// loops differ only in register numbers and address offsets, so they are
// written once here as Go code and expanded for every tile shape, instead
// of being copied by hand:
//
//	cd _asm && go run . -out ../compute -kernels ../kernels
//
// It writes gen_gemm_amd64.s and gen_gemm_amd64.go (declarations) into
// compute, and gen_attn_amd64.s and gen_attn_amd64.go into kernels; all
// say DO NOT EDIT. The generator has its own go.mod so the main module
// does not depend on it, and uses no library: every instruction below is
// spelled as the Go assembler wants it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

// Software prefetch distances in bytes of the decode tiles. The float
// tiles fetch into L2 (PREFETCHT1): on the AVX-512 Xeon measured, F16
// decode went from 9.8 to 10.6 t/s against PREFETCHT0 (interleaved runs;
// PREFETCHNTA halved it), the L1 fill buffers being what a single stream
// runs short of.
const (
	prefetchInt8  = 1024
	prefetchFloat = 4096
	floatPrefetch = "PREFETCHT1"
)

// prefetchFor is the prefetch instruction and distance of a quantized
// decode tile. Measured on the same Xeon (tg64, interleaved runs): Q4_0
// 29.6 → 31.1 t/s and Q4_K_M 25.1 → 26.9 with PREFETCHT1 4 KiB ahead
// (Q5_K shares Q4_K's tile), while Q8_0's tiles lost 7% with it and keep
// PREFETCHT0 1 KiB ahead, as do the AVX2 tiles, not measured on a
// machine without AVX-512.
func prefetchFor(kind string) (string, int) {
	switch kind {
	case "Q4_0", "Q4_K", "Q5_K", "Q6_K":
		return "PREFETCHT1", 4096
	}
	return "PREFETCHT0", prefetchInt8
}

type gen struct {
	s, g bytes.Buffer // assembly, Go declarations
}

func (g *gen) i(format string, args ...any) {
	fmt.Fprintf(&g.s, "\t"+format+"\n", args...)
}

func (g *gen) label(l string) { fmt.Fprintf(&g.s, "%s:\n", l) }

// The argument block every tile kernel receives (see gemmArgs in
// compute/gemm.go); offsets in bytes. W2…Out4 are gemmArgs.more[0..2]'s
// w and out, read by the multi-stream tiles.
const (
	argW       = 0
	argWStride = 8
	argX       = 16
	argXStride = 24
	argXD      = 32
	argXC      = 40
	argDStride = 48
	argN       = 56
	argOut     = 64
	argLdo     = 72
	argCStride = 80
	argW2      = 88
	argOut2    = 96
	argW3      = 104
	argOut3    = 112
	argW4      = 120
	argOut4    = 128
)

// rowAddr is the address of weight row r plus off: SI + r·R8 (R9 = 3·R8).
func rowAddr(r, off int) string {
	switch r {
	case 0:
		return fmt.Sprintf("%d(SI)", off)
	case 1:
		return fmt.Sprintf("%d(SI)(R8*1)", off)
	case 2:
		return fmt.Sprintf("%d(SI)(R8*2)", off)
	}
	return fmt.Sprintf("%d(SI)(R9*1)", off)
}

// tokAddr is the address of token t's data in array base: base + t·stride,
// with stride and 3·stride in the given registers.
func tokAddr(base, stride, stride3 string, t, off int) string {
	switch t {
	case 0:
		return fmt.Sprintf("%d(%s)", off, base)
	case 1:
		return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride)
	case 2:
		return fmt.Sprintf("%d(%s)(%s*2)", off, base, stride)
	}
	return fmt.Sprintf("%d(%s)(%s*1)", off, base, stride3)
}

// prologue loads the argument block into the registers shared by all
// kernels.
func (g *gen) prologue(name string) {
	fmt.Fprintf(&g.s, "\n// func %s(a *gemmArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), SI", argW)
	g.i("MOVQ %d(AX), R8", argWStride)
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("MOVQ %d(AX), DI", argX)
	g.i("MOVQ %d(AX), R10", argXStride)
	g.i("LEAQ (R10)(R10*2), R11")
	g.i("MOVQ %d(AX), BX", argXD)
	g.i("MOVQ %d(AX), CX", argXC)
	g.i("MOVQ %d(AX), R12", argDStride)
	g.i("LEAQ (R12)(R12*2), R13")
	g.i("MOVQ %d(AX), DX", argN)
	g.i("MOVQ %d(AX), R14", argLdo)
	g.i("LEAQ (R14)(R14*2), R15")
	g.i("MOVQ %d(AX), AX", argOut)
}

// reduceStore adds the 8 lanes a0..a7 of accumulator acc as the generic
// code does, ((a0+a4)+(a1+a5)) + ((a2+a6)+(a3+a7)), and stores the sum at
// out[t][r]. Every tile shape reduces the same way, so a (row, token)
// result never depends on the tile it was computed in.
func (g *gen) reduceStore(acc, r, t int) {
	g.i("VEXTRACTF32X4 $1, Y%d, X26", acc)
	g.i("VADDPS X26, X%d, X%d", acc, acc)   // s = a0+a4, a1+a5, a2+a6, a3+a7
	g.i("VMOVSHDUP X%d, X26", acc)          // s1, s1, s3, s3
	g.i("VADDPS X26, X%d, X%d", acc, acc)   // s0+s1, _, s2+s3, _
	g.i("VMOVHLPS X%d, X%d, X26", acc, acc) // s2+s3
	g.i("VADDSS X26, X%d, X%d", acc, acc)
	g.i("VMOVSS X%d, %s", acc, tokAddr("AX", "R14", "R15", t, 4*r))
}

// Int8 kernels work on weights repacked in groups of 16 rows (see
// compute/pack.go): per block of 32 columns the 16 f16 scales, then chunks
// of 64 bytes holding 4 consecutive weight bytes of each of the 16 rows,
// so one VPDPBUSD with a broadcast dword of activations yields 4 products
// for each of 16 rows in its 16 lanes (one Z register: half the
// broadcasts and float steps per row of 8-row Y tiles). Lane r of a token's int accumulator
// thus ends each block with row r's exact integer dot product (started at
// the correction -offset·Σq), and the float part is the generic code's,
// lane-wise and in block order:
//
//	acc += float(i) · (dw·dx)
//
// so results are bit-identical to quant's VecDot for every tile shape.
type int8Kind struct {
	name       string
	blockBytes int // bytes of one block of 8 rows (a 16-row block is twice that)
	chunks     int // 32-byte chunks per block (Q4_0: 4 holding both nibbles; Q8_0: 8)
}

// Address registers of the int8 kernels: x values DI (tokens 0-3) and R8
// (tokens 4-7), stride R10 (R11 = 3·R10); scales BX and R9, corrections
// CX and R15, stride R12 (R13 = 3·R12).
func xAddr(t, off int) string {
	if t < 4 {
		return tokAddr("DI", "R10", "R11", t, off)
	}
	return tokAddr("R8", "R10", "R11", t-4, off)
}

func dAddr(t int) string {
	if t < 4 {
		return tokAddr("BX", "R12", "R13", t, 0)
	}
	return tokAddr("R9", "R12", "R13", t-4, 0)
}

func cAddr(t int) string {
	if t < 4 {
		return tokAddr("CX", "R12", "R13", t, 0)
	}
	return tokAddr("R15", "R12", "R13", t-4, 0)
}

// int8Prologue starts an int8 tile of 8 tokens or fewer: weights SI,
// activations as xAddr, dAddr and cAddr read them, blocks DX (AX holds
// the argument block).
func (g *gen) int8Prologue(name string) {
	fmt.Fprintf(&g.s, "\n// func %s(a *gemmArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), SI", argW)
	g.i("MOVQ %d(AX), DI", argX)
	g.i("MOVQ %d(AX), R10", argXStride)
	g.i("LEAQ (R10)(R10*2), R11")
	g.i("LEAQ (DI)(R10*4), R8")
	g.i("MOVQ %d(AX), BX", argXD)
	g.i("MOVQ %d(AX), CX", argXC)
	g.i("MOVQ %d(AX), R12", argDStride)
	g.i("LEAQ (R12)(R12*2), R13")
	g.i("LEAQ (BX)(R12*4), R9")
	g.i("LEAQ (CX)(R12*4), R15")
	g.i("MOVQ %d(AX), DX", argN)
}

// int8Next moves the activation pointers of int8Prologue to the next
// block and loops while blocks remain (the weights are moved by the caller).
func (g *gen) int8Next(loop string) {
	g.i("ADDQ $32, DI")
	g.i("ADDQ $32, R8")
	g.i("ADDQ $4, BX")
	g.i("ADDQ $4, R9")
	g.i("ADDQ $4, CX")
	g.i("ADDQ $4, R15")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
}

func (g *gen) int8Kernel(k int8Kind, T int) string {
	name := fmt.Sprintf("gemm%sx16_%d", k.name, T)
	// 16 rows per group in Z registers: scales 32 bytes, chunks 64 bytes.
	const V = "Z"
	g.int8Prologue(name)
	// Integer chains per token: VPDPBUSD latency is hidden by independent
	// accumulators (integer sums are exact in any order).
	C := 1
	switch {
	case T == 1:
		C = 4
	case T <= 4:
		C = 2
	}
	ia := func(t, c int) int { return 8 + t*C + c }
	for t := 0; t < T; t++ {
		g.i("VPXORD %s%d, %s%d, %s%d", V, t, V, t, V, t)
	}
	if k.name == "Q4_0" {
		g.i("VMOVDQU64 nibbleMask<>(SB), Y27")
		g.i("VINSERTI64X4 $1, Y27, Z27, Z27")
	}
	loop := name + "_loop"
	g.label(loop)
	if T <= 8 {
		// Decode streams the weights once: fetch ahead of the loads.
		ins, dist := prefetchFor(k.name)
		g.i("%s %d(SI)", ins, dist)
		g.i("%s %d(SI)", ins, dist+64)
		for off := 128; off < 2*k.blockBytes; off += 64 {
			g.i("%s %d(SI)", ins, dist+off)
		}
	}
	g.i("VCVTPH2PS (SI), Z24")
	woff := g.int8Weights(k, "SI", 27)
	for t := 0; t < T; t++ {
		g.i("VPBROADCASTD %s, Z%d", cAddr(t), ia(t, 0))
		for c := 1; c < C; c++ {
			g.i("VPXORD Z%d, Z%d, Z%d", ia(t, c), ia(t, c), ia(t, c))
		}
		for j, off := range woff {
			g.i("VPDPBUSD.BCST %s, Z%d, Z%d", xAddr(t, off), 16+j, ia(t, j%C))
		}
		for c := 1; c < C; c++ {
			g.i("VPADDD Z%d, Z%d, Z%d", ia(t, c), ia(t, 0), ia(t, 0))
		}
		d := 25 + t%2
		g.i("VCVTDQ2PS Z%d, Z%d", ia(t, 0), ia(t, 0))
		g.i("VMULPS.BCST %s, Z24, Z%d", dAddr(t), d)
		g.i("VMULPS Z%d, Z%d, Z%d", d, ia(t, 0), ia(t, 0))
		g.i("VADDPS Z%d, Z%d, Z%d", ia(t, 0), t, t)
	}
	g.i("ADDQ $%d, SI", 2*k.blockBytes)
	g.int8Next(loop)
	g.storeTokens(T, 1)
	return name
}

// storeTokens ends a 16-row tile of T tokens over groups row groups (1
// to 3: out, then argOut2 and argOut3): it stores group i's sums for
// token t, Z(T·i+t), to its out[t][0:16] and returns.
func (g *gen) storeTokens(T, groups int) {
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), R14", argLdo)
	g.i("LEAQ (R14)(R14*2), R15")
	g.tokenLines(T, []string{"DX", "SI", "DI"}[:groups], "R14", "R15", func(i, t int, addr string) {
		g.i("VMOVUPS Z%d, %s", T*i+t, addr)
	})
	g.i("VZEROUPPER")
	g.i("RET")
}

// tokenLines loads the output pointers of len(bases) row groups (argOut,
// argOut2, argOut3; AX holds the argument block) into bases and calls
// emit for group i and token t < T with the address of its out[t][0:16]
// (ldo holds the output stride in bytes, ldo3 three times it). It moves
// the bases.
func (g *gen) tokenLines(T int, bases []string, ldo, ldo3 string, emit func(i, t int, addr string)) {
	for i, off := range []int{argOut, argOut2, argOut3}[:len(bases)] {
		g.i("MOVQ %d(AX), %s", off, bases[i])
	}
	for i, base := range bases {
		for t := 0; t < T; t++ {
			if t == 4 {
				g.i("LEAQ (%s)(%s*4), %s", base, ldo, base)
			}
			emit(i, t, tokAddr(base, ldo, ldo3, t%4, 0))
		}
	}
}

// int8Weights loads one 16-row block of Q4_0 or Q8_0 weights at base
// into Z16..Z23 (Q4_0's nibbles split with the mask in Z<mask>) and
// returns, in register order, the column offsets of the activation dwords
// each one multiplies.
func (g *gen) int8Weights(k int8Kind, base string, mask int) []int {
	var woff []int
	switch k.name {
	case "Q4_0":
		for c := 0; c < 4; c++ {
			g.i("VPANDD %d(%s), Z%d, Z%d", 32+64*c, base, mask, 16+2*c)
			g.i("VPSRLW $4, %d(%s), Z%d", 32+64*c, base, 17+2*c)
			g.i("VPANDD Z%d, Z%d, Z%d", mask, 17+2*c, 17+2*c)
			woff = append(woff, 4*c, 16+4*c)
		}
	case "Q8_0":
		for c := 0; c < 8; c++ {
			g.i("VMOVDQU64 %d(%s), Z%d", 32+64*c, base, 16+c)
			woff = append(woff, 4*c)
		}
	}
	return woff
}

// int8Dual8Kernel is the 16-row tile for 8 tokens (int8Kernel with T =
// 8) over two groups at once, group A at SI and group B at R14 (argW2),
// each read as its own stream: a batch of 8 tokens (8 sequences decoding)
// streams every weight once from memory, and one stream per thread keeps
// too few reads in flight. Accumulators Z0-Z7 (A) and Z8-Z15 (B); each
// (group, token) chain is the single tile's, block by block, so results
// are bit-identical to it. The chains take turns in Z24-Z26 (renamed).
func (g *gen) int8Dual8Kernel(k int8Kind) string {
	name := fmt.Sprintf("gemm%sx16_8d", k.name)
	g.int8Prologue(name)
	g.i("MOVQ %d(AX), R14", argW2)
	for a := 0; a < 16; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	if k.name == "Q4_0" {
		g.i("VMOVDQU64 nibbleMask<>(SB), Y31")
		g.i("VINSERTI64X4 $1, Y31, Z31, Z31")
	}
	loop := name + "_loop"
	g.label(loop)
	ins, dist := prefetchFor(k.name)
	for _, b := range []string{"SI", "R14"} {
		for off := 0; off < 2*k.blockBytes; off += 64 {
			g.i("%s %d(%s)", ins, dist+off, b)
		}
	}
	for gi, b := range []string{"SI", "R14"} {
		sc := 28 + gi
		g.i("VCVTPH2PS (%s), Z%d", b, sc)
		woff := g.int8Weights(k, b, 31)
		for t := 0; t < 8; t++ {
			ia := 24 + t%3
			g.i("VPBROADCASTD %s, Z%d", cAddr(t), ia)
			for j, off := range woff {
				g.i("VPDPBUSD.BCST %s, Z%d, Z%d", xAddr(t, off), 16+j, ia)
			}
			g.i("VCVTDQ2PS Z%d, Z%d", ia, ia)
			g.i("VMULPS.BCST %s, Z%d, Z30", dAddr(t), sc)
			g.i("VMULPS Z30, Z%d, Z%d", ia, ia)
			acc := 8*gi + t
			g.i("VADDPS Z%d, Z%d, Z%d", ia, acc, acc)
		}
	}
	g.i("ADDQ $%d, SI", 2*k.blockBytes)
	g.i("ADDQ $%d, R14", 2*k.blockBytes)
	g.int8Next(loop)
	g.storeTokens(8, 2)
	return name
}

// Float kernels: weights F16 or BF16, activations float32 (xstride bytes
// per token), 16 elements per step in Z registers; per (row, token) one
// 16-lane accumulator, acc += w·x with FMA. The lanes are added in a fixed
// order, the same for every tile shape, so a result does not depend on its
// tile (it differs from the generic code's only by summation order and
// fused rounding). Tiles of 4 rows read weights repacked by 4 rows (per
// step of 16 columns the 4 rows' 32 bytes in order, so a tile streams one
// contiguous run); single-row tiles read the file layout (wstride).
// F32 weights (64 bytes per step and row) are not repacked: every tile
// reads the file layout, four rows as four streams.
func (g *gen) floatKernel(kind string, R, T int) string {
	name := fmt.Sprintf("gemm%s_%dx%d", kind, R, T)
	g.prologue(name)
	acc := func(r, t int) int { return r*T + t }
	addr := func(r int) string {
		if R == 4 && kind != "F32" {
			return fmt.Sprintf("%d(SI)", 32*r)
		}
		return rowAddr(r, 0)
	}
	advance := 32 * R
	if kind == "F32" {
		advance = 64
	}
	for r := 0; r < R; r++ {
		for t := 0; t < T; t++ {
			g.i("VPXORD Z%d, Z%d, Z%d", acc(r, t), acc(r, t), acc(r, t))
		}
	}
	loop := name + "_loop"
	g.label(loop)
	if T == 1 {
		// Decode streams the weights once: fetch ahead.
		switch {
		case kind == "F32":
			for r := 0; r < R; r++ {
				g.i("%s %s", floatPrefetch, rowAddr(r, prefetchFloat))
			}
		case R == 4:
			g.i("%s %d(SI)", floatPrefetch, prefetchFloat)
			g.i("%s %d(SI)", floatPrefetch, prefetchFloat+64)
		default:
			g.i("%s %d(SI)", floatPrefetch, prefetchFloat)
		}
	}
	for r := 0; r < R; r++ {
		w := 16 + r
		switch kind {
		case "F32":
			g.i("VMOVUPS %s, Z%d", addr(r), w)
		case "F16":
			g.i("VCVTPH2PS %s, Z%d", addr(r), w)
		case "BF16":
			g.i("VPMOVZXWD %s, Z%d", addr(r), w)
			g.i("VPSLLD $16, Z%d, Z%d", w, w)
		}
	}
	for t := 0; t < T; t++ {
		g.i("VMOVUPS %s, Z24", tokAddr("DI", "R10", "R11", t, 0))
		for r := 0; r < R; r++ {
			g.i("VFMADD231PS Z24, Z%d, Z%d", 16+r, acc(r, t))
		}
	}
	g.i("ADDQ $%d, SI", advance)
	g.i("ADDQ $64, DI")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	for r := 0; r < R; r++ {
		for t := 0; t < T; t++ {
			a := acc(r, t)
			g.i("VEXTRACTF64X4 $1, Z%d, Y26", a)
			g.i("VADDPS Y26, Y%d, Y%d", a, a)
			g.reduceStore(a, r, t)
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// Dual decode tiles (one token) multiply two row groups far apart in
// memory (weights at w and w2, results to out and out2) in one loop, so
// each thread reads two streams: on the Xeon measured, two streams per
// thread read 32 GB/s where one reads 27 (a kernel of 2 MiB pieces, two
// threads), the hardware prefetcher following two pages at a time. Each
// group's arithmetic is the single tile's, instruction for instruction, so
// results are bit-identical to it.

// floatDualKernel is the F16/BF16 4-row tile for one token, twice: group A
// in Z0-Z3 (weights Z16-Z19), group B in Z4-Z7 (Z20-Z23); both read the
// same activations.
func (g *gen) floatDualKernel(kind string) string {
	name := fmt.Sprintf("gemm%s_4x1d", kind)
	fmt.Fprintf(&g.s, "\n// func %s(a *gemmArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), SI", argW)
	g.i("MOVQ %d(AX), BX", argW2)
	g.i("MOVQ %d(AX), DI", argX)
	g.i("MOVQ %d(AX), DX", argN)
	for a := 0; a < 8; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	loop := name + "_loop"
	g.label(loop)
	for _, base := range []string{"SI", "BX"} {
		g.i("%s %d(%s)", floatPrefetch, prefetchFloat, base)
		g.i("%s %d(%s)", floatPrefetch, prefetchFloat+64, base)
	}
	for grp, base := range []string{"SI", "BX"} {
		for r := 0; r < 4; r++ {
			w := 16 + 4*grp + r
			switch kind {
			case "F16":
				g.i("VCVTPH2PS %d(%s), Z%d", 32*r, base, w)
			case "BF16":
				g.i("VPMOVZXWD %d(%s), Z%d", 32*r, base, w)
				g.i("VPSLLD $16, Z%d, Z%d", w, w)
			}
		}
	}
	g.i("VMOVUPS (DI), Z24")
	for a := 0; a < 8; a++ {
		g.i("VFMADD231PS Z24, Z%d, Z%d", 16+a, a)
	}
	g.i("ADDQ $128, SI")
	g.i("ADDQ $128, BX")
	g.i("ADDQ $64, DI")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.i("MOVQ a+0(FP), DX")
	g.i("MOVQ %d(DX), AX", argOut)
	for a := 0; a < 8; a++ {
		if a == 4 {
			g.i("MOVQ %d(DX), AX", argOut2)
		}
		g.i("VEXTRACTF64X4 $1, Z%d, Y26", a)
		g.i("VADDPS Y26, Y%d, Y%d", a, a)
		g.reduceStore(a, a%4, 0)
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

// K-quant kernels (Q4_K, Q6_K) take activations as Q8_K values (int8,
// xstride bytes per token), one float32 scale per 256-superblock (d
// array, dstride) and int32 values per 16 columns (c array, cstride):
// Q6_K: -32·Σq of each 16; Q4_K: at index 2j the Σq of 32-column group j.
// Up to 4 tokens. Registers: x DI (R10, R11 = 3·R10), d BX (R12, R13),
// c CX (R8, R9).
func (g *gen) kPrologue(name string) {
	fmt.Fprintf(&g.s, "\n// func %s(a *gemmArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), SI", argW)
	g.i("MOVQ %d(AX), DI", argX)
	g.i("MOVQ %d(AX), R10", argXStride)
	g.i("LEAQ (R10)(R10*2), R11")
	g.i("MOVQ %d(AX), BX", argXD)
	g.i("MOVQ %d(AX), R12", argDStride)
	g.i("LEAQ (R12)(R12*2), R13")
	g.i("MOVQ %d(AX), CX", argXC)
	g.i("MOVQ %d(AX), R8", argCStride)
	g.i("LEAQ (R8)(R8*2), R9")
	g.i("MOVQ %d(AX), DX", argN)
}

func kx(t, off int) string { return tokAddr("DI", "R10", "R11", t, off) }
func kd(t int) string      { return tokAddr("BX", "R12", "R13", t, 0) }
func kc(t, off int) string { return tokAddr("CX", "R8", "R9", t, off) }

func (g *gen) kEpilogue(T int) { g.kEpilogueV(T, "Y") }

// kEpilogueV stores the T accumulators (Y: 8 rows, Z: 16 rows).
func (g *gen) kEpilogueV(T int, v string) {
	g.i("MOVQ a+0(FP), AX")
	g.i("MOVQ %d(AX), R14", argLdo)
	g.i("MOVQ %d(AX), AX", argOut)
	g.i("LEAQ (R14)(R14*2), R15")
	for t := 0; t < T; t++ {
		g.i("VMOVUPS %s%d, %s", v, t, tokAddr("AX", "R14", "R15", t, 0))
	}
	g.i("VZEROUPPER")
	g.i("RET")
}

// Q6_K, repacked by 16 rows: per superblock the 16 f16 scales d, then per
// group of 16 columns the 16 rows' int8 scales (16 bytes) and 4 chunks of
// 64 bytes (4 columns × 16 rows of the 6-bit values q+32 as bytes): 4384
// bytes, in Z registers (lane r is row r). Per group and token, S =
// -32·Σq + Σ u·x (exact), isum += sc·S; per superblock acc +=
// (d·dy)·float(isum), as the generic code.
func (g *gen) q6kKernel(T int) string {
	const R = 16
	name := fmt.Sprintf("gemmQ6_Kx16_%d", T)
	g.kPrologue(name)
	for t := 0; t < T; t++ {
		g.i("VPXORD Z%d, Z%d, Z%d", t, t, t)
	}
	outer, inner := name+"_sb", name+"_grp"
	g.label(outer)
	g.i("VCVTPH2PS (SI), Z28")
	g.i("ADDQ $%d, SI", 2*R)
	for t := 0; t < T; t++ {
		g.i("VPXORD Z%d, Z%d, Z%d", 4+t, 4+t, 4+t)
	}
	g.i("MOVQ $16, AX")
	g.label(inner)
	for off := 0; T == 1 && off < 17*R; off += 64 {
		ins, dist := prefetchFor("Q6_K")
		g.i("%s %d(SI)", ins, dist+off)
	}
	g.i("VPMOVSXBD (SI), Z27")
	for c := 0; c < 4; c++ {
		g.i("VMOVDQU64 %d(SI), Z%d", R+4*R*c, 16+c)
	}
	for t := 0; t < T; t++ {
		sa, sb := 8+t, 12+t
		g.i("VPBROADCASTD %s, Z%d", kc(t, 0), sa)
		g.i("VPXORD Z%d, Z%d, Z%d", sb, sb, sb)
		for c := 0; c < 4; c++ {
			dst := sa
			if c%2 == 1 {
				dst = sb
			}
			g.i("VPDPBUSD.BCST %s, Z%d, Z%d", kx(t, 4*c), 16+c, dst)
		}
		g.i("VPADDD Z%d, Z%d, Z%d", sb, sa, sa)
		g.i("VPMULLD Z27, Z%d, Z%d", sa, sa)
		g.i("VPADDD Z%d, Z%d, Z%d", sa, 4+t, 4+t)
	}
	g.i("ADDQ $%d, SI", 17*R)
	g.i("ADDQ $16, DI")
	g.i("ADDQ $4, CX")
	g.i("DECQ AX")
	g.i("JNZ %s", inner)
	for t := 0; t < T; t++ {
		g.i("VMULPS.BCST %s, Z28, Z29", kd(t))
		g.i("VCVTDQ2PS Z%d, Z%d", 4+t, 4+t)
		g.i("VMULPS Z%d, Z29, Z29", 4+t)
		g.i("VADDPS Z29, Z%d, Z%d", t, t)
	}
	g.i("ADDQ $4, BX")
	g.i("DECQ DX")
	g.i("JNZ %s", outer)
	g.kEpilogueV(T, "Z")
	return name
}

// Q4_K, repacked by 16 rows: per superblock the 16 f16 d, the 16 f16
// dmin, the mins (16 bytes per 32-column group j: one per row), then per
// pair of groups (2k, 2k+1) their 16-row scales (16 + 16 bytes) and 8
// chunks of 64 bytes holding 4 nibble bytes of each row (low nibbles:
// group 2k, high: group 2k+1): 2368 bytes, in Z registers (lane r is row
// r). Per superblock and token, isum = Σ sc_j·S_j, summs = Σ m_j·Σq_j
// (exact) and acc += (d·dy)·float(isum) - (dmin·dy)·float(summs), as the
// generic code. Q5_K uses the same code on 8 rows (Y registers).
func (g *gen) q4kKernel16(T int) string { return g.k45Kernel(T, false, 16) }

// Q5_K, repacked by 8 rows as Q4_K plus, after each pair's chunks, the
// fifth bits: for each chunk c a 32-bit mask for its low-nibble values
// and one for its high-nibble values (bit 4r+i: row r, column i), 64
// bytes per pair: 1440 bytes per superblock. A mask becomes +16 on the
// bytes it selects (KMOVD, VPMOVM2B, AND 16, OR).
func (g *gen) q5kKernel(T int) string { return g.k45Kernel(T, true, 8) }

// k45Kernel is the Q4_K (or Q5_K) kernel for groups of R rows (8: Y
// registers, 16: Z registers). Per superblock: d (R f16) at 0, dmin at
// 2R, the 8 group mins at 4R + R·j + r, then 4 pairs of 34R bytes (plus
// Q5_K's masks): the low and high group scales at R·h + r, and 8 chunks
// at 2R + 4R·c + 4r.
func (g *gen) k45Kernel(T int, q5 bool, R int) string {
	v := "Y"
	if R == 16 {
		v = "Z"
	}
	name := fmt.Sprintf("gemmQ4_Kx%d_%d", R, T)
	pair := 34 * R
	if q5 {
		name = fmt.Sprintf("gemmQ5_Kx8_%d", T)
		pair = 336
	}
	g.kPrologue(name)
	if q5 {
		g.i("MOVL $0x10101010, AX")
		g.i("VPBROADCASTD AX, Y31")
	}
	for t := 0; t < T; t++ {
		g.i("VPXORD %s%d, %s%d, %s%d", v, t, v, t, v, t)
	}
	g.i("MOVL $0x0f0f0f0f, AX")
	g.i("VPBROADCASTD AX, %s30", v)
	outer, inner := name+"_sb", name+"_pair"
	g.label(outer)
	g.i("MOVQ SI, R15")
	g.i("ADDQ $%d, SI", 12*R)
	for t := 0; t < T; t++ {
		g.i("VPXORD %s%d, %s%d, %s%d", v, 4+t, v, 4+t, v, 4+t)
	}
	g.i("MOVQ $4, AX")
	g.label(inner)
	// Decode streams the weights once: fetch ahead of the loads.
	for off := 0; T == 1 && off < pair; off += 64 {
		ins, dist := prefetchFor("Q4_K")
		g.i("%s %d(SI)", ins, dist+off)
	}
	g.i("VPMOVZXBD (SI), %s24", v)
	g.i("VPMOVZXBD %d(SI), %s25", R, v)
	for t := 0; t < T; t++ {
		g.i("VPXORD %s%d, %s%d, %s%d", v, 8+t, v, 8+t, v, 8+t)
		g.i("VPXORD %s%d, %s%d, %s%d", v, 12+t, v, 12+t, v, 12+t)
	}
	for h := 0; h < 2; h++ {
		for i := 0; i < 4; i++ {
			c := 4*h + i
			g.i("VPANDD %d(SI), %s30, %s%d", 2*R+4*R*c, v, v, 16+i)
			g.i("VPSRLW $4, %d(SI), %s%d", 2*R+4*R*c, v, 20+i)
			g.i("VPANDD %s30, %s%d, %s%d", v, v, 20+i, v, 20+i)
			if q5 {
				for hl, w := range []int{16 + i, 20 + i} {
					g.i("KMOVD %d(SI), K1", 272+8*c+4*hl)
					g.i("VPMOVM2B K1, Y26")
					g.i("VPANDD Y31, Y26, Y26")
					g.i("VPORD Y26, Y%d, Y%d", w, w)
				}
			}
		}
		for t := 0; t < T; t++ {
			for i := 0; i < 4; i++ {
				c := 4*h + i
				g.i("VPDPBUSD.BCST %s, %s%d, %s%d", kx(t, 4*c), v, 16+i, v, 8+t)
				g.i("VPDPBUSD.BCST %s, %s%d, %s%d", kx(t, 32+4*c), v, 20+i, v, 12+t)
			}
		}
	}
	for t := 0; t < T; t++ {
		g.i("VPMULLD %s24, %s%d, %s%d", v, v, 8+t, v, 8+t)
		g.i("VPMULLD %s25, %s%d, %s%d", v, v, 12+t, v, 12+t)
		g.i("VPADDD %s%d, %s%d, %s%d", v, 8+t, v, 4+t, v, 4+t)
		g.i("VPADDD %s%d, %s%d, %s%d", v, 12+t, v, 4+t, v, 4+t)
	}
	g.i("ADDQ $%d, SI", pair)
	g.i("ADDQ $64, DI")
	g.i("DECQ AX")
	g.i("JNZ %s", inner)
	// mins · group sums, then the float step.
	for j := 0; j < 8; j++ {
		g.i("VPMOVZXBD %d(R15), %s%d", 4*R+R*j, v, 16+j)
	}
	g.i("VCVTPH2PS (R15), %s28", v)
	g.i("VCVTPH2PS %d(R15), %s29", 2*R, v)
	for t := 0; t < T; t++ {
		g.i("VPXORD %s8, %s8, %s8", v, v, v)
		for j := 0; j < 8; j++ {
			g.i("VPMULLD.BCST %s, %s%d, %s26", kc(t, 8*j), v, 16+j, v)
			g.i("VPADDD %s26, %s8, %s8", v, v, v)
		}
		g.i("VMULPS.BCST %s, %s28, %s25", kd(t), v, v)
		g.i("VCVTDQ2PS %s%d, %s%d", v, 4+t, v, 4+t)
		g.i("VMULPS %s%d, %s25, %s25", v, 4+t, v, v)
		g.i("VMULPS.BCST %s, %s29, %s26", kd(t), v, v)
		g.i("VCVTDQ2PS %s8, %s8", v, v)
		g.i("VMULPS %s8, %s26, %s26", v, v, v)
		g.i("VSUBPS %s26, %s25, %s25", v, v, v)
		g.i("VADDPS %s25, %s%d, %s%d", v, v, t, v, t)
	}
	g.i("ADDQ $64, CX")
	g.i("ADDQ $4, BX")
	g.i("DECQ DX")
	g.i("JNZ %s", outer)
	g.kEpilogueV(T, v)
	return name
}

// int8StreamsKernel is the 16-row int8 tile for one token over n = 2 or
// 4 groups (the dual and, for Q4_0, the four-stream tile): the groups'
// weights at SI, R9, R12 and R13 (w, w2, w3, w4), accumulators Z0-Z3,
// chains Z8-Z15, scales Z24-Z26 and Z28; the weight registers Z16-Z23 and
// the product scale Z29 are shared, each group done with them before the
// next begins (the CPU renames them). Two chains per group instead of
// the single tile's four: the groups' chains are independent. Q4_0's four
// streams: tg64 44.5 → 46.6 t/s over two (three interleaved rounds); its
// weights take more instructions per byte than F16's or Q8_0's, and more
// streams keep more reads in flight meanwhile. Q8_0's four were no
// faster than two.
func (g *gen) int8StreamsKernel(k int8Kind, n int) string {
	name := fmt.Sprintf("gemm%sx16_1d", k.name)
	if n == 4 {
		name = fmt.Sprintf("gemm%sx16_1q", k.name)
	}
	bases := g.streamsPrologue(name, n)
	if k.name == "Q4_0" {
		g.i("VMOVDQU64 nibbleMask<>(SB), Y27")
		g.i("VINSERTI64X4 $1, Y27, Z27, Z27")
	}
	scs := []int{24, 25, 26, 28}
	loop := name + "_loop"
	g.label(loop)
	ins, dist := prefetchFor(k.name)
	for _, b := range bases {
		for off := 0; off < 2*k.blockBytes; off += 64 {
			g.i("%s %d(%s)", ins, dist+off, b)
		}
	}
	for gi, b := range bases {
		acc, c0, c1, sc := gi, 8+2*gi, 9+2*gi, scs[gi]
		g.i("VCVTPH2PS (%s), Z%d", b, sc)
		woff := g.int8Weights(k, b, 27)
		g.i("VPBROADCASTD (CX), Z%d", c0)
		g.i("VPXORD Z%d, Z%d, Z%d", c1, c1, c1)
		for j, off := range woff {
			c := c0
			if j%2 == 1 {
				c = c1
			}
			g.i("VPDPBUSD.BCST %d(DI), Z%d, Z%d", off, 16+j, c)
		}
		g.i("VPADDD Z%d, Z%d, Z%d", c1, c0, c0)
		g.i("VCVTDQ2PS Z%d, Z%d", c0, c0)
		g.i("VMULPS.BCST (BX), Z%d, Z29", sc)
		g.i("VMULPS Z29, Z%d, Z%d", c0, c0)
		g.i("VADDPS Z%d, Z%d, Z%d", c0, acc, acc)
	}
	for _, b := range bases {
		g.i("ADDQ $%d, %s", 2*k.blockBytes, b)
	}
	g.i("ADDQ $32, DI")
	g.i("ADDQ $4, BX")
	g.i("ADDQ $4, CX")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.streamsEpilogue(n)
	return name
}

// streamsPrologue starts a multi-stream one-token tile of n groups
// (int8 and K-quant): weights SI, R9, R12, R13 (returned, the first n),
// x DI, scales BX, corrections CX, blocks or superblocks DX; it clears
// the accumulators Z0 … Z(n-1).
func (g *gen) streamsPrologue(name string, n int) []string {
	fmt.Fprintf(&g.s, "\n// func %s(a *gemmArgs)\nTEXT ·%s(SB), NOSPLIT, $0-8\n", name, name)
	g.i("MOVQ a+0(FP), AX")
	bases := []string{"SI", "R9", "R12", "R13"}[:n]
	for i, off := range []int{argW, argW2, argW3, argW4}[:n] {
		g.i("MOVQ %d(AX), %s", off, bases[i])
	}
	g.i("MOVQ %d(AX), DI", argX)
	g.i("MOVQ %d(AX), BX", argXD)
	g.i("MOVQ %d(AX), CX", argXC)
	g.i("MOVQ %d(AX), DX", argN)
	for a := 0; a < n; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	return bases
}

// streamsEpilogue stores group i's accumulator Zi to its out, i < n.
func (g *gen) streamsEpilogue(n int) {
	g.i("MOVQ a+0(FP), AX")
	for a, off := range []int{argOut, argOut2, argOut3, argOut4}[:n] {
		g.i("MOVQ %d(AX), DX", off)
		g.i("VMOVUPS Z%d, (DX)", a)
	}
	g.i("VZEROUPPER")
	g.i("RET")
}

// q4kDualKernel is the 16-row Q4_K tile for one token (k45Kernel with T
// = 1), twice: group A at SI (superblock start R15; accumulator Z0,
// superblock sum Z4, chains Z8/Z12), group B at R9 (R14; Z1, Z5,
// Z9/Z13). The temporaries are shared: each group's use of them is
// complete before the other's begins, and the CPU renames them.
func (g *gen) q4kDualKernel() string {
	const R, pair = 16, 34 * 16
	name := "gemmQ4_Kx16_1d"
	g.streamsPrologue(name, 2)
	g.i("MOVL $0x0f0f0f0f, AX")
	g.i("VPBROADCASTD AX, Z30")
	type group struct {
		p, sb             string
		acc, isum, c0, c1 int
	}
	groups := []group{{"SI", "R15", 0, 4, 8, 12}, {"R9", "R14", 1, 5, 9, 13}}
	outer, inner := name+"_sb", name+"_pair"
	g.label(outer)
	for _, gr := range groups {
		g.i("MOVQ %s, %s", gr.p, gr.sb)
		g.i("ADDQ $%d, %s", 12*R, gr.p)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.isum, gr.isum, gr.isum)
	}
	g.i("MOVQ $4, AX")
	g.label(inner)
	ins, dist := prefetchFor("Q4_K")
	for _, gr := range groups {
		for off := 0; off < pair; off += 64 {
			g.i("%s %d(%s)", ins, dist+off, gr.p)
		}
	}
	for _, gr := range groups {
		g.i("VPMOVZXBD (%s), Z24", gr.p)
		g.i("VPMOVZXBD %d(%s), Z25", R, gr.p)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.c0, gr.c0, gr.c0)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.c1, gr.c1, gr.c1)
		for h := 0; h < 2; h++ {
			for i := 0; i < 4; i++ {
				c := 4*h + i
				g.i("VPANDD %d(%s), Z30, Z%d", 2*R+4*R*c, gr.p, 16+i)
				g.i("VPSRLW $4, %d(%s), Z%d", 2*R+4*R*c, gr.p, 20+i)
				g.i("VPANDD Z30, Z%d, Z%d", 20+i, 20+i)
			}
			for i := 0; i < 4; i++ {
				c := 4*h + i
				g.i("VPDPBUSD.BCST %d(DI), Z%d, Z%d", 4*c, 16+i, gr.c0)
				g.i("VPDPBUSD.BCST %d(DI), Z%d, Z%d", 32+4*c, 20+i, gr.c1)
			}
		}
		g.i("VPMULLD Z24, Z%d, Z%d", gr.c0, gr.c0)
		g.i("VPMULLD Z25, Z%d, Z%d", gr.c1, gr.c1)
		g.i("VPADDD Z%d, Z%d, Z%d", gr.c0, gr.isum, gr.isum)
		g.i("VPADDD Z%d, Z%d, Z%d", gr.c1, gr.isum, gr.isum)
		g.i("ADDQ $%d, %s", pair, gr.p)
	}
	g.i("ADDQ $64, DI")
	g.i("DECQ AX")
	g.i("JNZ %s", inner)
	for _, gr := range groups {
		for j := 0; j < 8; j++ {
			g.i("VPMOVZXBD %d(%s), Z%d", 4*R+R*j, gr.sb, 16+j)
		}
		g.i("VCVTPH2PS (%s), Z28", gr.sb)
		g.i("VCVTPH2PS %d(%s), Z29", 2*R, gr.sb)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.c0, gr.c0, gr.c0)
		for j := 0; j < 8; j++ {
			g.i("VPMULLD.BCST %d(CX), Z%d, Z26", 8*j, 16+j)
			g.i("VPADDD Z26, Z%d, Z%d", gr.c0, gr.c0)
		}
		g.i("VMULPS.BCST (BX), Z28, Z25")
		g.i("VCVTDQ2PS Z%d, Z%d", gr.isum, gr.isum)
		g.i("VMULPS Z%d, Z25, Z25", gr.isum)
		g.i("VMULPS.BCST (BX), Z29, Z26")
		g.i("VCVTDQ2PS Z%d, Z%d", gr.c0, gr.c0)
		g.i("VMULPS Z%d, Z26, Z26", gr.c0)
		g.i("VSUBPS Z26, Z25, Z25")
		g.i("VADDPS Z25, Z%d, Z%d", gr.acc, gr.acc)
	}
	g.i("ADDQ $64, CX")
	g.i("ADDQ $4, BX")
	g.i("DECQ DX")
	g.i("JNZ %s", outer)
	g.streamsEpilogue(2)
	return name
}

// q6kDualKernel is the 16-row Q6_K tile for one token (q6kKernel with T
// = 1), twice: group A at SI (accumulator Z0, group sum Z4, chains
// Z8/Z12, superblock scales Z28), group B at R9 (Z1, Z5, Z9/Z13, Z26).
func (g *gen) q6kDualKernel() string {
	const R = 16
	name := "gemmQ6_Kx16_1d"
	g.streamsPrologue(name, 2)
	type group struct {
		p                    string
		acc, isum, sa, sb, d int
	}
	groups := []group{{"SI", 0, 4, 8, 12, 28}, {"R9", 1, 5, 9, 13, 26}}
	outer, inner := name+"_sb", name+"_grp"
	g.label(outer)
	for _, gr := range groups {
		g.i("VCVTPH2PS (%s), Z%d", gr.p, gr.d)
		g.i("ADDQ $%d, %s", 2*R, gr.p)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.isum, gr.isum, gr.isum)
	}
	g.i("MOVQ $16, AX")
	g.label(inner)
	ins, dist := prefetchFor("Q6_K")
	for _, gr := range groups {
		for off := 0; off < 17*R; off += 64 {
			g.i("%s %d(%s)", ins, dist+off, gr.p)
		}
	}
	for _, gr := range groups {
		g.i("VPMOVSXBD (%s), Z27", gr.p)
		for c := 0; c < 4; c++ {
			g.i("VMOVDQU64 %d(%s), Z%d", R+4*R*c, gr.p, 16+c)
		}
		g.i("VPBROADCASTD (CX), Z%d", gr.sa)
		g.i("VPXORD Z%d, Z%d, Z%d", gr.sb, gr.sb, gr.sb)
		for c := 0; c < 4; c++ {
			dst := gr.sa
			if c%2 == 1 {
				dst = gr.sb
			}
			g.i("VPDPBUSD.BCST %d(DI), Z%d, Z%d", 4*c, 16+c, dst)
		}
		g.i("VPADDD Z%d, Z%d, Z%d", gr.sb, gr.sa, gr.sa)
		g.i("VPMULLD Z27, Z%d, Z%d", gr.sa, gr.sa)
		g.i("VPADDD Z%d, Z%d, Z%d", gr.sa, gr.isum, gr.isum)
		g.i("ADDQ $%d, %s", 17*R, gr.p)
	}
	g.i("ADDQ $16, DI")
	g.i("ADDQ $4, CX")
	g.i("DECQ AX")
	g.i("JNZ %s", inner)
	for _, gr := range groups {
		g.i("VMULPS.BCST (BX), Z%d, Z29", gr.d)
		g.i("VCVTDQ2PS Z%d, Z%d", gr.isum, gr.isum)
		g.i("VMULPS Z%d, Z29, Z29", gr.isum)
		g.i("VADDPS Z29, Z%d, Z%d", gr.acc, gr.acc)
	}
	g.i("ADDQ $4, BX")
	g.i("DECQ DX")
	g.i("JNZ %s", outer)
	g.streamsEpilogue(2)
	return name
}

// AVX2 kernels, for CPUs without AVX-512 (VEX encodings, Y0-Y15 only).
// Integer: weights repacked by 8 rows as for the 8-row layout of the
// AVX-512 kernels (16-byte scale header, 32-byte chunks), 1-4 tokens.
// Without VPDPBUSD a chunk product is VPMADDUBSW (u8·s8 pairs to s16) then
// VPMADDWD by ones (pairs to s32): Q4_0 nibbles (≤ 15) cannot saturate the
// s16 pairs; Q8_0 weights are kept signed and multiplied as |w| by x with
// w's sign (VPSIGNB), so no correction applies (offset 0). Results are
// bit-identical to the generic code, as for the AVX-512 kernels.
func (g *gen) avx2Int8Kernel(k int8Kind, T int) string {
	name := fmt.Sprintf("gemm%sAVX2x8_%d", k.name, T)
	g.kPrologue(name) // x DI/R10/R11, d BX/R12/R13, c CX with d's stride
	// Registers: acc Y0-Y3, int Y4-Y7, weights Y8-Y9, temps Y10-Y11,
	// ones (16-bit) Y12, nibble mask Y13, dw Y14, d·dx Y15.
	for t := 0; t < T; t++ {
		g.i("VPXOR Y%d, Y%d, Y%d", t, t, t)
	}
	g.i("VPCMPEQW Y12, Y12, Y12")
	g.i("VPSRLW $15, Y12, Y12")
	if k.name == "Q4_0" || k.name == "MXFP4" {
		g.i("VMOVDQU nibbleMask<>(SB), Y13")
	}
	if k.name == "MXFP4" {
		// The e2m1 table (doubled values) in both 128-bit lanes.
		g.i("VMOVDQU mxfp4Values<>(SB), Y15")
	}
	loop := name + "_loop"
	g.label(loop)
	if T <= 2 {
		for off := 0; off < k.blockBytes; off += 64 {
			g.i("PREFETCHT0 %d(SI)", prefetchInt8+off)
		}
	}
	if k.name == "MXFP4" {
		g.i("VMOVUPS (SI), Y14") // the 8 rows' scales as float32
	} else {
		g.i("VCVTPH2PS (SI), Y14")
	}
	for t := 0; t < T; t++ {
		g.i("VPBROADCASTD %s, Y%d", tokAddr("CX", "R12", "R13", t, 0), 4+t)
	}
	// product adds u8(w)·s8(x dword at off) of token t to int t.
	product := func(w, t, off int) {
		g.i("VPBROADCASTD %s, Y10", kx(t, off))
		if k.name == "Q8_0" || k.name == "MXFP4" {
			g.i("VPSIGNB Y%d, Y10, Y10", w)
			g.i("VPABSB Y%d, Y11", w)
			g.i("VPMADDUBSW Y10, Y11, Y10")
		} else {
			g.i("VPMADDUBSW Y10, Y%d, Y10", w)
		}
		g.i("VPMADDWD Y12, Y10, Y10")
		g.i("VPADDD Y10, Y%d, Y%d", 4+t, 4+t)
	}
	switch k.name {
	case "Q4_0":
		for c := 0; c < 4; c++ {
			g.i("VMOVDQU %d(SI), Y9", 16+32*c)
			g.i("VPAND Y13, Y9, Y8")
			g.i("VPSRLW $4, Y9, Y9")
			g.i("VPAND Y13, Y9, Y9")
			for t := 0; t < T; t++ {
				product(8, t, 4*c)
				product(9, t, 16+4*c)
			}
		}
	case "Q8_0":
		for c := 0; c < 8; c++ {
			g.i("VMOVDQU %d(SI), Y8", 16+32*c)
			for t := 0; t < T; t++ {
				product(8, t, 4*c)
			}
		}
	case "MXFP4":
		// As Q4_0, but the nibbles index the e2m1 table (signed values,
		// multiplied as Q8_0's are).
		for c := 0; c < 4; c++ {
			g.i("VMOVDQU %d(SI), Y9", 32+32*c)
			g.i("VPAND Y13, Y9, Y8")
			g.i("VPSRLW $4, Y9, Y9")
			g.i("VPAND Y13, Y9, Y9")
			g.i("VPSHUFB Y8, Y15, Y8")
			g.i("VPSHUFB Y9, Y15, Y9")
			for t := 0; t < T; t++ {
				product(8, t, 4*c)
				product(9, t, 16+4*c)
			}
		}
	}
	for t := 0; t < T; t++ {
		g.i("VBROADCASTSS %s, Y10", kd(t))
		g.i("VMULPS Y10, Y14, Y10")
		g.i("VCVTDQ2PS Y%d, Y%d", 4+t, 4+t)
		g.i("VMULPS Y10, Y%d, Y%d", 4+t, 4+t)
		g.i("VADDPS Y%d, Y%d, Y%d", 4+t, t, t)
	}
	g.i("ADDQ $%d, SI", k.blockBytes)
	g.i("ADDQ $32, DI")
	g.i("ADDQ $4, BX")
	g.i("ADDQ $4, CX")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.kEpilogue(T)
	return name
}

// avx2FloatKernel: F16/BF16 weights repacked by 4 rows (R = 4) or in the
// file layout (R = 1), one token, 16 columns per step as two 8-lane Y
// halves with their own accumulators per row, FMA.
func (g *gen) avx2FloatKernel(kind string, R int) string {
	const T = 1
	name := fmt.Sprintf("gemm%sAVX2_%dx%d", kind, R, T)
	g.prologue(name)
	acc := func(r, t, h int) int { return (r*T+t)*2 + h }
	n := 2 * R * T
	for i := 0; i < n; i++ {
		g.i("VPXOR Y%d, Y%d, Y%d", i, i, i)
	}
	addr := func(r, h int) string {
		if R == 4 {
			return fmt.Sprintf("%d(SI)", 32*r+16*h)
		}
		return rowAddr(r, 16*h)
	}
	loop := name + "_loop"
	g.label(loop)
	if T == 1 {
		g.i("%s %d(SI)", floatPrefetch, prefetchFloat)
		if R == 4 {
			g.i("%s %d(SI)", floatPrefetch, prefetchFloat+64)
		}
	}
	for r := 0; r < R; r++ {
		for h := 0; h < 2; h++ {
			w := 14 + h
			switch kind {
			case "F16":
				g.i("VCVTPH2PS %s, Y%d", addr(r, h), w)
			case "BF16":
				g.i("VPMOVZXWD %s, Y%d", addr(r, h), w)
				g.i("VPSLLD $16, Y%d, Y%d", w, w)
			}
			for t := 0; t < T; t++ {
				g.i("VMOVUPS %s, Y%d", tokAddr("DI", "R10", "R11", t, 32*h), 12+t%2)
				g.i("VFMADD231PS Y%d, Y%d, Y%d", 12+t%2, w, acc(r, t, h))
			}
		}
	}
	g.i("ADDQ $%d, SI", 32*R)
	g.i("ADDQ $64, DI")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	for r := 0; r < R; r++ {
		for t := 0; t < T; t++ {
			a := acc(r, t, 0)
			g.i("VADDPS Y%d, Y%d, Y%d", a+1, a, a)
			g.i("VEXTRACTF128 $1, Y%d, X%d", a, a+1)
			g.i("VADDPS X%d, X%d, X%d", a+1, a, a)
			g.i("VMOVSHDUP X%d, X%d", a, a+1)
			g.i("VADDPS X%d, X%d, X%d", a+1, a, a)
			g.i("VMOVHLPS X%d, X%d, X%d", a, a, a+1)
			g.i("VADDSS X%d, X%d, X%d", a+1, a, a)
			g.i("VMOVSS X%d, %s", a, tokAddr("AX", "R14", "R15", t, 4*r))
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")
	return name
}

func main() {
	out := flag.String("out", "../compute", "output folder of the matrix kernels")
	kout := flag.String("kernels", "../kernels", "output folder of the attention kernels")
	flag.Parse()
	g := &gen{}
	hdr := "// Code generated by _asm (go run .); DO NOT EDIT.\n\n"
	g.s.WriteString(hdr + "//go:build !purego\n\n#include \"textflag.h\"\n")
	g.data("nibbleMask", 0x0f0f0f0f0f0f0f0f, 0x0f0f0f0f0f0f0f0f, 0x0f0f0f0f0f0f0f0f, 0x0f0f0f0f0f0f0f0f)
	// MXFP4's e2m1 values doubled (0 1 2 3 4 6 8 12 0 -1 -2 -3 -4 -6 -8 -12)
	// as bytes, twice.
	g.data("mxfp4Values", 0x0c08060403020100, 0xf4f8fafcfdfeff00, 0x0c08060403020100, 0xf4f8fafcfdfeff00)
	g.g.WriteString(hdr + "//go:build !purego\n\npackage compute\n")
	for _, k := range []int8Kind{{"Q4_0", 8 * 18, 4}, {"Q8_0", 8 * 34, 8}} {
		var names []string
		for T := 1; T <= 8; T++ {
			names = append(names, g.int8Kernel(k, T))
		}
		for _, n := range names {
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
		}
		dn := g.int8StreamsKernel(k, 2)
		fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n\nvar dual%sx16 = %s\n", dn, k.name, dn)
		d8 := g.int8Dual8Kernel(k)
		fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n\nvar dual8%sx16 = %s\n", d8, k.name, d8)
		if k.name == "Q4_0" {
			qn := g.int8StreamsKernel(k, 4)
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n\nvar quad%sx16 = %s\n", qn, k.name, qn)
		}
		fmt.Fprintf(&g.g, "\nvar tiles%sx16 = [8]func(*gemmArgs){", k.name)
		for i, n := range names {
			if i > 0 {
				g.g.WriteString(", ")
			}
			g.g.WriteString(n)
		}
		g.g.WriteString("}\n")
	}
	{
		var names []string
		for T := 1; T <= 8; T++ {
			names = append(names, g.bf16Kernel(T))
		}
		names = append(names, g.bf16DualKernel(), g.bf16Dual8Kernel(), g.bf16Tri8Kernel())
		for _, n := range names {
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
		}
		fmt.Fprintf(&g.g, "\nvar dualBF16x16, dual8BF16x16, tri8BF16x16 = %s, %s, %s\n\nvar tilesBF16x16 = [8]func(*gemmArgs){%s", names[8], names[9], names[10], names[0])
		for _, n := range names[1:8] {
			fmt.Fprintf(&g.g, ", %s", n)
		}
		g.g.WriteString("}\n")
	}
	for _, k := range []struct {
		name string
		f    func(int) string
		rows int
	}{{"Q4_K", g.q4kKernel16, 16}, {"Q5_K", g.q5kKernel, 8}, {"Q6_K", g.q6kKernel, 16}} {
		var names []string
		for T := 1; T <= 4; T++ {
			names = append(names, k.f(T))
		}
		for _, n := range names {
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
		}
		fmt.Fprintf(&g.g, "\nvar tiles%sx%d = [8]func(*gemmArgs){%s, %s, %s, %s}\n", k.name, k.rows, names[0], names[1], names[2], names[3])
	}
	for _, dn := range []string{g.q4kDualKernel(), g.q6kDualKernel()} {
		fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", dn)
	}
	g.g.WriteString("\nvar dualQ4_Kx16, dualQ6_Kx16 = gemmQ4_Kx16_1d, gemmQ6_Kx16_1d\n")
	shapes := [][2]int{{4, 1}, {4, 2}, {4, 3}, {4, 4}, {1, 1}, {1, 2}, {1, 3}, {1, 4}}
	for _, kind := range []string{"F16", "BF16", "F32"} {
		var names []string
		for _, sh := range shapes {
			names = append(names, g.floatKernel(kind, sh[0], sh[1]))
		}
		g.decls(kind, names)
		if kind != "F32" {
			dn := g.floatDualKernel(kind)
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n\nvar dual%s = %s\n", dn, kind, dn)
		}
	}
	for _, k := range []int8Kind{{"Q4_0", 8 * 18, 4}, {"Q8_0", 8 * 34, 8}, {"MXFP4", 32 + 8*16, 4}} {
		var names []string
		for T := 1; T <= 4; T++ {
			names = append(names, g.avx2Int8Kernel(k, T))
		}
		for _, n := range names {
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
		}
		fmt.Fprintf(&g.g, "\nvar tiles%sAVX2x8 = [8]func(*gemmArgs){%s, %s, %s, %s}\n", k.name, names[0], names[1], names[2], names[3])
	}
	for _, kind := range []string{"F16", "BF16"} {
		names := []string{g.avx2FloatKernel(kind, 1), g.avx2FloatKernel(kind, 4)}
		for _, n := range names {
			fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
		}
		fmt.Fprintf(&g.g, "\nvar tiles%sAVX2 = [2][4]func(*gemmArgs){\n\t{%s},\n\t{%s},\n}\n", kind, names[0], names[1])
	}
	write := func(dir, name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write(*out, "gen_gemm_amd64.s", g.s.Bytes())
	write(*out, "gen_gemm_amd64.go", g.g.Bytes())
	a := &gen{}
	a.s.WriteString(hdr + "//go:build !purego\n\n#include \"textflag.h\"\n")
	a.g.WriteString(hdr + "//go:build !purego\n\npackage kernels\n")
	a.attnKernels()
	a.attnKernelsAVX2()
	write(*kout, "gen_attn_amd64.s", a.s.Bytes())
	write(*kout, "gen_attn_amd64.go", a.g.Bytes())
}

// decls declares the kernels of one type and lists them by tile shape:
// tiles<kind>[R==4][T-1].
func (g *gen) decls(kind string, names []string) {
	for _, n := range names {
		fmt.Fprintf(&g.g, "\n//go:noescape\nfunc %s(a *gemmArgs)\n", n)
	}
	fmt.Fprintf(&g.g, "\nvar tiles%s = [2][4]func(*gemmArgs){\n\t{%s, %s, %s, %s},\n\t{%s, %s, %s, %s},\n}\n",
		kind, names[4], names[5], names[6], names[7], names[0], names[1], names[2], names[3])
}

// data emits a 32-byte read-only constant.
func (g *gen) data(name string, q ...uint64) {
	g.s.WriteString("\n")
	for i, v := range q {
		fmt.Fprintf(&g.s, "DATA %s<>+%d(SB)/8, $0x%016x\n", name, 8*i, v)
	}
	fmt.Fprintf(&g.s, "GLOBL %s<>(SB), RODATA|NOPTR, $%d\n", name, 8*len(q))
}

// BF16 kernels multiply BF16 weights by BF16 activations with VDPBF16PS
// (AVX512_BF16), two products per lane and instruction: twice the
// multiply-adds of the F32 FMA tiles. The weights are repacked in groups
// of 16 rows (compute/pack.go): per block of 32 columns, 16 chunks of 64
// bytes, chunk j holding columns 2j and 2j+1 of row 0, then of row 1, …,
// row 15, so that a broadcast dword of activations (one column pair)
// yields in lane r row r's two products, added to its sum. Each (row,
// token) sum is one chain in column order in every tile shape, so a
// result never depends on the tile. The products of two BF16 values are
// exact in float32; the instruction treats BF16 subnormals as zero and
// flushes subnormal sums (as the generic code does not: they differ by
// summation order and those).

// vdpbf16ps emits VDPBF16PS Z<src2>, Z<src1>, Z<dst> (dst += pairwise
// src1·src2), which the Go assembler does not know, as its EVEX bytes
// (EVEX.512.F3.0F38.W0 52 /r, register operands).
func (g *gen) vdpbf16ps(src2, src1, dst int) {
	inv := func(v, bit int) int { return ^(v >> bit) & 1 }
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | 0x2
	p1 := (^src1&15)<<3 | 1<<2 | 0x2
	p2 := 0x2<<5 | inv(src1, 4)<<3
	modrm := 0xc0 | (dst&7)<<3 | src2&7
	g.i("BYTE $0x62; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x52; BYTE $0x%02x // VDPBF16PS Z%d, Z%d, Z%d",
		p0, p1, p2, modrm, src2, src1, dst)
}

// bf16Block emits one 32-column block of a BF16 tile over the groups at
// bases (chunk j of group i into Z16 + (j·groups + i)%8), token t's
// activations at x(t, offset) broadcast into Z24 and up, group i's sum
// for token t in Z<acc(i, t)>.
func (g *gen) bf16Block(bases []string, T int, x func(t, off int) string, acc func(i, t int) int) {
	n := len(bases)
	for q := 0; q < 4; q++ {
		// Four chunks at a time: token t's four column pairs come in
		// one 16-byte load, spread by VPSHUFD (fewer loads than four
		// broadcasts).
		for j := 4 * q; j < 4*q+4; j++ {
			for i, b := range bases {
				g.i("VMOVDQU64 %d(%s), Z%d", 64*j, b, 16+(j%4*n+i)%8)
			}
		}
		for t := 0; t < T; t++ {
			v := 24 + t%2
			g.i("VBROADCASTI32X4 %s, Z%d", x(t, 16*q), v)
			for j := 4 * q; j < 4*q+4; j++ {
				b := 26 + (t*4+j)%6
				g.i("VPSHUFD $0x%02x, Z%d, Z%d", 0x55*(j%4), v, b)
				for i := range bases {
					g.vdpbf16ps(b, 16+(j%4*n+i)%8, acc(i, t))
				}
			}
		}
	}
}

// bf16Kernel is the 16-row BF16 tile for T ≤ 8 tokens: weights SI,
// activations as xAddr reads them (2 bytes per column), blocks DX.
func (g *gen) bf16Kernel(T int) string {
	name := fmt.Sprintf("gemmBF16x16_%d", T)
	g.int8Prologue(name)
	for a := 0; a < T; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	loop := name + "_loop"
	g.label(loop)
	for off := 0; off < 1024; off += 64 {
		g.i("%s %d(SI)", floatPrefetch, prefetchFloat+off)
	}
	g.bf16Block([]string{"SI"}, T, xAddr, func(_, t int) int { return t })
	g.i("ADDQ $1024, SI")
	g.i("ADDQ $64, DI")
	g.i("ADDQ $64, R8")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.storeTokens(T, 1)
	return name
}

// bf16DualKernel is the BF16 tile for one token over two groups, SI
// (sum Z0) and R9 (Z1), each read as its own stream.
func (g *gen) bf16DualKernel() string {
	name := "gemmBF16x16_1d"
	g.streamsPrologue(name, 2)
	loop := name + "_loop"
	g.label(loop)
	for _, b := range []string{"SI", "R9"} {
		for off := 0; off < 1024; off += 64 {
			g.i("%s %d(%s)", floatPrefetch, prefetchFloat+off, b)
		}
	}
	x := func(_, off int) string { return fmt.Sprintf("%d(DI)", off) }
	g.bf16Block([]string{"SI", "R9"}, 1, x, func(i, _ int) int { return i })
	g.i("ADDQ $1024, SI")
	g.i("ADDQ $1024, R9")
	g.i("ADDQ $64, DI")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.streamsEpilogue(2)
	return name
}

// bf16Tri8Kernel is the BF16 tile for 8 tokens over three groups, SI
// (sums Z0-Z7), R14 (Z8-Z15) and R9 (Z16-Z23), each read as its own
// stream, for prefill. Each column pair of a token is broadcast straight
// from memory (VPBROADCASTD) and serves the three groups: 24 independent
// sums keep both dot-product pipes busy through the instruction's
// latency, with no shuffles (on Zen 5 this shape runs about a tenth
// faster than two groups spread by VPSHUFD). No software prefetches:
// after a piece's first token tile its weights come from L2, and the
// hardware prefetchers follow the three streams (3-5% faster without).
// The sums are the same chains in column order as in the other tiles.
func (g *gen) bf16Tri8Kernel() string {
	name := "gemmBF16x16_8t"
	g.int8Prologue(name)
	g.i("MOVQ %d(AX), R14", argW2)
	g.i("MOVQ %d(AX), R9", argW3)
	// The 24 output lines are written once, at the end, and are rarely
	// in cache (a prompt's outputs are megabytes): fetch them now, so
	// the stores do not wait for them (a line no other core holds comes
	// in exclusive, ready to write). BF16 pp512 A/B +2-5% on Zen 5.
	g.i("MOVQ %d(AX), R12", argLdo)
	g.i("LEAQ (R12)(R12*2), R13")
	g.tokenLines(8, []string{"BX", "CX", "R15"}, "R12", "R13", func(_, _ int, addr string) {
		g.i("PREFETCHT0 %s", addr)
	})
	for a := 0; a < 24; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	bases := []string{"SI", "R14", "R9"}
	loop := name + "_loop"
	g.label(loop)
	for j := 0; j < 16; j++ {
		w := 24 + 3*(j%2)
		for i, b := range bases {
			g.i("VMOVDQU64 %d(%s), Z%d", 64*j, b, w+i)
		}
		for t := 0; t < 8; t++ {
			v := 30 + t%2
			g.i("VPBROADCASTD %s, Z%d", xAddr(t, 4*j), v)
			for i := range bases {
				g.vdpbf16ps(v, w+i, 8*i+t)
			}
		}
	}
	for _, b := range bases {
		g.i("ADDQ $1024, %s", b)
	}
	g.i("ADDQ $64, DI")
	g.i("ADDQ $64, R8")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.storeTokens(8, 3)
	return name
}

// bf16Dual8Kernel is the BF16 tile for 8 tokens over two groups, SI
// (sums Z0-Z7) and R14 (Z8-Z15): each broadcast serves both groups, and
// each group is read as its own stream.
func (g *gen) bf16Dual8Kernel() string {
	name := "gemmBF16x16_8d"
	g.int8Prologue(name)
	g.i("MOVQ %d(AX), R14", argW2)
	for a := 0; a < 16; a++ {
		g.i("VPXORD Z%d, Z%d, Z%d", a, a, a)
	}
	loop := name + "_loop"
	g.label(loop)
	for _, b := range []string{"SI", "R14"} {
		for off := 0; off < 1024; off += 64 {
			g.i("%s %d(%s)", floatPrefetch, prefetchFloat+off, b)
		}
	}
	g.bf16Block([]string{"SI", "R14"}, 8, xAddr, func(i, t int) int { return 8*i + t })
	g.i("ADDQ $1024, SI")
	g.i("ADDQ $1024, R14")
	g.i("ADDQ $64, DI")
	g.i("ADDQ $64, R8")
	g.i("DECQ DX")
	g.i("JNZ %s", loop)
	g.storeTokens(8, 2)
	return name
}
