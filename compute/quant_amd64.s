//go:build !purego

#include "textflag.h"

DATA q8consts<>+0(SB)/4, $0x7fffffff  // |x| mask
DATA q8consts<>+4(SB)/4, $0x80000000  // sign mask
DATA q8consts<>+8(SB)/4, $0x3f000000  // 0.5
DATA q8consts<>+12(SB)/4, $0x3f800000 // 1.0
DATA q8consts<>+16(SB)/4, $0x42fe0000 // 127.0
GLOBL q8consts<>(SB), RODATA|NOPTR, $20

// func quantizeQ8AVX512(q *int8, d *float32, c *int32, x *float32, nb int, offset int32)
// The reference Q8_0 activation quantization of nb blocks of 32 (see
// quantizeRowQ8Generic): d = max|x|/127, q = round-half-away(x·(1/d)),
// d stored rounded to F16; c = -offset·Σq.
TEXT ·quantizeQ8AVX512(SB), NOSPLIT, $0-44
	MOVQ q+0(FP), DI
	MOVQ d+8(FP), BX
	MOVQ c+16(FP), CX
	MOVQ x+24(FP), SI
	MOVQ nb+32(FP), DX
	MOVL offset+40(FP), R8
	NEGL R8
	VBROADCASTSS q8consts<>+0(SB), Z31
	VBROADCASTSS q8consts<>+4(SB), Z30
	VBROADCASTSS q8consts<>+8(SB), Z29
	VBROADCASTSS q8consts<>+12(SB), Z28
	VMOVSS q8consts<>+16(SB), X27
	VXORPS X26, X26, X26
	TESTQ DX, DX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VANDPS Z31, Z0, Z2
	VANDPS Z31, Z1, Z3
	VMAXPS Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0x4e, X2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0xb1, X2, X3
	VMAXPS X3, X2, X2         // amax in every lane
	VDIVSS X27, X2, X4        // d = amax/127
	VCVTPS2PH $0, X4, X7
	VCVTPH2PS X7, X7
	VMOVSS X7, (BX)           // d rounded to f16
	VMOVSS q8consts<>+12(SB), X5
	VDIVSS X4, X5, X5         // 1/d
	VCMPSS $4, X26, X4, K1    // d != 0
	VMOVSS.Z X5, X5, K1, X5   // id = d != 0 ? 1/d : 0
	VBROADCASTSS X5, Z5
	VMULPS Z5, Z0, Z0
	VMULPS Z5, Z1, Z1
	// round half away from zero: t = trunc(|v|), +1 where |v|-t >= 0.5
	VANDPS Z31, Z0, Z2
	VANDPS Z31, Z1, Z3
	VRNDSCALEPS $0x0b, Z2, Z6
	VRNDSCALEPS $0x0b, Z3, Z7
	VSUBPS Z6, Z2, Z2
	VSUBPS Z7, Z3, Z3
	VCMPPS $13, Z29, Z2, K2
	VCMPPS $13, Z29, Z3, K3
	VADDPS Z28, Z6, K2, Z6
	VADDPS Z28, Z7, K3, Z7
	VANDPS Z30, Z0, Z0
	VANDPS Z30, Z1, Z1
	VORPS Z0, Z6, Z6
	VORPS Z1, Z7, Z7
	VCVTTPS2DQ Z6, Z6
	VCVTTPS2DQ Z7, Z7
	VPMOVSDB Z6, (DI)
	VPMOVSDB Z7, 16(DI)
	VPADDD Z7, Z6, Z6
	VEXTRACTI64X4 $1, Z6, Y7
	VPADDD Y7, Y6, Y6
	VEXTRACTI128 $1, Y6, X7
	VPADDD X7, X6, X6
	VPSHUFD $0x4e, X6, X7
	VPADDD X7, X6, X6
	VPSHUFD $0xb1, X6, X7
	VPADDD X7, X6, X6
	VMOVD X6, AX
	IMULL R8, AX
	MOVL AX, (CX)
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, BX
	ADDQ $4, CX
	DECQ DX
	JNZ  loop
done:
	VZEROUPPER
	RET
