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

// func fp32ToBF16Asm(dst *uint16, src *float32, n int)
// dst[i] = FP32ToBF16(src[i]) for n groups of 16, in AVX2 integer
// operations that follow it step by step: bits + 0x7fff + bit 16, shifted
// down 16 (nearest even), and for NaNs the top half with the quiet bit.
TEXT ·fp32ToBF16Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fffffff, AX
	VMOVD AX, X10
	VPBROADCASTD X10, Y10
	MOVL $0x7f800000, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x7fff, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVL $1, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
loopbf:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	// Y0 → Y4
	VPAND Y10, Y0, Y2
	VPCMPGTD Y11, Y2, Y2
	VPSRLD $16, Y0, Y3
	VPAND Y13, Y3, Y5
	VPADDD Y12, Y0, Y4
	VPADDD Y5, Y4, Y4
	VPSRLD $16, Y4, Y4
	VPOR Y14, Y3, Y3
	VPBLENDVB Y2, Y3, Y4, Y4
	// Y1 → Y8
	VPAND Y10, Y1, Y6
	VPCMPGTD Y11, Y6, Y6
	VPSRLD $16, Y1, Y7
	VPAND Y13, Y7, Y9
	VPADDD Y12, Y1, Y8
	VPADDD Y9, Y8, Y8
	VPSRLD $16, Y8, Y8
	VPOR Y14, Y7, Y7
	VPBLENDVB Y6, Y7, Y8, Y8
	VPACKUSDW Y8, Y4, Y4
	VPERMQ $0xd8, Y4, Y4
	VMOVDQU Y4, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loopbf
	VZEROUPPER
	RET
