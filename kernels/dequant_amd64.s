//go:build !purego

#include "textflag.h"

// func dequantQ8TAVX512(dst *float32, q *int8, s *uint16, groups int)
// groups of 32 rows of 64 values: the group's 64 scales (f16) times each
// row's 64 int8 values.
TEXT ·dequantQ8TAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ groups+24(FP), CX
gloop:
	VCVTPH2PS (DX), Z0
	VCVTPH2PS 32(DX), Z1
	VCVTPH2PS 64(DX), Z2
	VCVTPH2PS 96(DX), Z3
	MOVQ $32, BX
rloop:
	VPMOVSXBD (SI), Z4
	VPMOVSXBD 16(SI), Z5
	VPMOVSXBD 32(SI), Z6
	VPMOVSXBD 48(SI), Z7
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VCVTDQ2PS Z6, Z6
	VCVTDQ2PS Z7, Z7
	VMULPS Z0, Z4, Z4
	VMULPS Z1, Z5, Z5
	VMULPS Z2, Z6, Z6
	VMULPS Z3, Z7, Z7
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, 64(DI)
	VMOVUPS Z6, 128(DI)
	VMOVUPS Z7, 192(DI)
	ADDQ $64, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  rloop
	ADDQ $128, DX
	DECQ CX
	JNZ  gloop
	VZEROUPPER
	RET

// func dequantQ8AVX512(dst *float32, q *int8, s *uint16, blocks int)
// blocks of 32 values, each its f16 scale times its int8 values.
TEXT ·dequantQ8AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ s+16(FP), DX
	MOVQ blocks+24(FP), CX
bloop:
	VPBROADCASTW (DX), Y0
	VCVTPH2PS Y0, Z0
	VPMOVSXBD (SI), Z4
	VPMOVSXBD 16(SI), Z5
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VMULPS Z0, Z4, Z4
	VMULPS Z0, Z5, Z5
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, 64(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $2, DX
	DECQ CX
	JNZ  bloop
	VZEROUPPER
	RET

// func f16RowsAVX512(dst *float32, src *uint16, rows, chunks, stride int)
// rows rows of chunks·16 halves, stride bytes apart, widened to float32
// into consecutive rows of dst.
TEXT ·f16RowsAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), DX
	MOVQ stride+32(FP), R8
hrow:
	MOVQ chunks+24(FP), CX
	MOVQ SI, R9
hchunk4:
	CMPQ CX, $4
	JLT  hchunk
	VCVTPH2PS (R9), Z0
	VCVTPH2PS 32(R9), Z1
	VCVTPH2PS 64(R9), Z2
	VCVTPH2PS 96(R9), Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $128, R9
	ADDQ $256, DI
	SUBQ $4, CX
	JMP  hchunk4
hchunk:
	TESTQ CX, CX
	JZ   hnext
	VCVTPH2PS (R9), Z0
	VMOVUPS Z0, (DI)
	ADDQ $32, R9
	ADDQ $64, DI
	DECQ CX
	JMP  hchunk
hnext:
	ADDQ R8, SI
	DECQ DX
	JNZ  hrow
	VZEROUPPER
	RET
