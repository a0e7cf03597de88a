//go:build !purego

#include "textflag.h"

// REDUCE16Y sums the 16 lanes held as Y0 (lanes 0-7) and Y1 (lanes 8-15)
// as _mm512_reduce_add_ps does: t8 = hi8 + lo8, t4 = hi4 + lo4 of t8,
// then (t4[0]+t4[2]) + (t4[1]+t4[3]); the result in X0.
#define REDUCE16Y \
	VADDPS       Y0, Y1, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X0, X1, X0 \
	VPERMILPS    $0x4E, X0, X1 \
	VADDPS       X1, X0, X0 \
	VMOVSHDUP    X0, X1 \
	VADDSS       X1, X0, X0

// func dotF16Lanes16AVX512(a, x *uint16, n int) float32
TEXT ·dotF16Lanes16AVX512(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Z0, Z0, Z0

f16z:
	VCVTPH2PS   (SI), Z1
	VCVTPH2PS   (DI), Z2
	VFMADD231PS Z2, Z1, Z0
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         f16z
	VEXTRACTF64X4 $1, Z0, Y1
	REDUCE16Y
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF32Lanes16AVX512(a, x *float32, n int) float32
TEXT ·dotF32Lanes16AVX512(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Z0, Z0, Z0

f32z:
	VMOVUPS     (SI), Z1
	VFMADD231PS (DI), Z1, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         f32z
	VEXTRACTF64X4 $1, Z0, Y1
	REDUCE16Y
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF16Lanes16AVX2(a, x *uint16, n int) float32
TEXT ·dotF16Lanes16AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f16y:
	VCVTPH2PS   (SI), Y2
	VCVTPH2PS   (DI), Y3
	VFMADD231PS Y3, Y2, Y0
	VCVTPH2PS   16(SI), Y2
	VCVTPH2PS   16(DI), Y3
	VFMADD231PS Y3, Y2, Y1
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         f16y
	REDUCE16Y
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET

// func dotF32Lanes16AVX2(a, x *float32, n int) float32
TEXT ·dotF32Lanes16AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

f32y:
	VMOVUPS     (SI), Y2
	VFMADD231PS (DI), Y2, Y0
	VMOVUPS     32(SI), Y3
	VFMADD231PS 32(DI), Y3, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         f32y
	REDUCE16Y
	VMOVSS     X0, ret+24(FP)
	VZEROUPPER
	RET
