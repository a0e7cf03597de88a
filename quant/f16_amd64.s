//go:build !purego

#include "textflag.h"

// func f16LanesAsm(acc *[8]float32, w, x *byte, n int)
// For each of n groups of 8 half-precision values: convert w and x to
// float32, multiply (rounded), add to the eight accumulators (rounded),
// exactly as f16LanesGeneric does lane by lane.
TEXT ·f16LanesAsm(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), DX
	MOVQ w+8(FP), SI
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	VMOVUPS (DX), Y0
loop:
	VCVTPH2PS (SI), Y1
	VCVTPH2PS (DI), Y2
	VMULPS Y2, Y1, Y1
	VADDPS Y1, Y0, Y0
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ loop
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func fp32ToFP16Asm(dst *uint16, src *float32, n int)
// dst[i] = the half-precision bits of src[i], rounded to nearest even
// (F16C), for n groups of 8.
TEXT ·fp32ToFP16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
loop16:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVDQU X1, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNZ loop16
	VZEROUPPER
	RET

// func fp16ToFP32Asm(dst *float32, src *uint16, n int)
// dst[i] = the single-precision value of the half src[i] (F16C, exact),
// for n groups of 8.
TEXT ·fp16ToFP32Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
loop8:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop8
	VZEROUPPER
	RET
