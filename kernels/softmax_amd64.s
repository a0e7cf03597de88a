//go:build !purego

#include "textflag.h"

// func scaleMax64AVX512(x *float32, s float32) float32
// x[i] *= s for i < 64; returns the largest x[i] (lanes folded pairwise:
// the maximum does not depend on the order).
TEXT ·scaleMax64AVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), AX
	VBROADCASTSS s+8(FP), Z4
	VMULPS (AX), Z4, Z0
	VMULPS 64(AX), Z4, Z1
	VMULPS 128(AX), Z4, Z2
	VMULPS 192(AX), Z4, Z3
	VMOVUPS Z0, (AX)
	VMOVUPS Z1, 64(AX)
	VMOVUPS Z2, 128(AX)
	VMOVUPS Z3, 192(AX)
	VMAXPS Z1, Z0, Z0
	VMAXPS Z3, Z2, Z2
	VMAXPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sum64AVX512(x *float32) float64
// Σ x[i] for i < 64 in float64: lane l of 8 takes x[l], x[l+8], … in
// order, then the lanes are added as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
TEXT ·sum64AVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), AX
	VCVTPS2PD (AX), Z0
	VCVTPS2PD 32(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 64(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 96(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 128(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 160(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 192(AX), Z1
	VADDPD Z1, Z0, Z0
	VCVTPS2PD 224(AX), Z1
	VADDPD Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VPERMILPD $1, X0, X1
	VADDSD X1, X0, X0
	VMOVSD X0, ret+8(FP)
	VZEROUPPER
	RET
