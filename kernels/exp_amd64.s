//go:build !purego

#include "textflag.h"

// Constants of the float64 exponential: log2(e), ln2 split in a high part
// exact in few bits and the rest, Taylor coefficients 1/k! for k = 2..13,
// the clamp range, 1.0 and the exponent bias.
DATA expc<>+0(SB)/8, $1.4426950408889634    // log2(e)
DATA expc<>+8(SB)/8, $0.6931471803691238    // ln2 hi
DATA expc<>+16(SB)/8, $1.9082149292705877e-10 // ln2 lo
DATA expc<>+24(SB)/8, $200.0
DATA expc<>+32(SB)/8, $-200.0
DATA expc<>+40(SB)/8, $1.0
DATA expc<>+48(SB)/8, $0.5
DATA expc<>+56(SB)/8, $0.16666666666666666
DATA expc<>+64(SB)/8, $0.041666666666666664
DATA expc<>+72(SB)/8, $0.008333333333333333
DATA expc<>+80(SB)/8, $0.001388888888888889
DATA expc<>+88(SB)/8, $0.0001984126984126984
DATA expc<>+96(SB)/8, $2.48015873015873e-05
DATA expc<>+104(SB)/8, $2.7557319223985893e-06
DATA expc<>+112(SB)/8, $2.755731922398589e-07
DATA expc<>+120(SB)/8, $2.505210838544172e-08
DATA expc<>+128(SB)/8, $2.08767569878681e-09
DATA expc<>+136(SB)/8, $1.6059043836821613e-10
DATA expc<>+144(SB)/8, $1023
GLOBL expc<>(SB), RODATA|NOPTR, $152

// EXP8 computes Z0 = exp(Z0) for 8 float64 lanes (|x| clamped to 200):
// k = round(x·log2e), r = x - k·ln2 (two steps), p = Σ r^i/i! to i = 13
// (relative error ~1e-17 on |r| ≤ ln2/2), exp = p·2^k. Uses Z1-Z3.
#define EXP8 \
	VMINPD Z20, Z0, Z0; \
	VMAXPD Z21, Z0, Z0; \
	VMULPD Z19, Z0, Z1; \
	VRNDSCALEPD $0, Z1, Z1; \
	VFNMADD231PD Z17, Z1, Z0; \
	VFNMADD231PD Z18, Z1, Z0; \
	VMOVAPD Z31, Z2; \
	VFMADD213PD Z30, Z0, Z2; \
	VFMADD213PD Z29, Z0, Z2; \
	VFMADD213PD Z28, Z0, Z2; \
	VFMADD213PD Z27, Z0, Z2; \
	VFMADD213PD Z26, Z0, Z2; \
	VFMADD213PD Z25, Z0, Z2; \
	VFMADD213PD Z24, Z0, Z2; \
	VFMADD213PD Z23, Z0, Z2; \
	VFMADD213PD Z16, Z0, Z2; \
	VFMADD213PD Z15, Z0, Z2; \
	VFMADD213PD Z14, Z0, Z2; \
	VFMADD213PD Z22, Z0, Z2; \
	VFMADD213PD Z22, Z0, Z2; \
	VCVTPD2QQ Z1, Z1; \
	VPADDQ Z13, Z1, Z1; \
	VPSLLQ $52, Z1, Z1; \
	VMULPD Z1, Z2, Z0

#define LOADC \
	VBROADCASTSD expc<>+0(SB), Z19; \
	VBROADCASTSD expc<>+8(SB), Z17; \
	VBROADCASTSD expc<>+16(SB), Z18; \
	VBROADCASTSD expc<>+24(SB), Z20; \
	VBROADCASTSD expc<>+32(SB), Z21; \
	VBROADCASTSD expc<>+40(SB), Z22; \
	VBROADCASTSD expc<>+48(SB), Z14; \
	VBROADCASTSD expc<>+56(SB), Z15; \
	VBROADCASTSD expc<>+64(SB), Z16; \
	VBROADCASTSD expc<>+72(SB), Z23; \
	VBROADCASTSD expc<>+80(SB), Z24; \
	VBROADCASTSD expc<>+88(SB), Z25; \
	VBROADCASTSD expc<>+96(SB), Z26; \
	VBROADCASTSD expc<>+104(SB), Z27; \
	VBROADCASTSD expc<>+112(SB), Z28; \
	VBROADCASTSD expc<>+120(SB), Z29; \
	VBROADCASTSD expc<>+128(SB), Z30; \
	VBROADCASTSD expc<>+136(SB), Z31; \
	VPBROADCASTQ expc<>+144(SB), Z13

// func expSubAVX512(dst, src *float32, n int, sub float32)
// dst[i] = float32(exp(float64(src[i] - sub))) for n a multiple of 8.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS sub+24(FP), Y12
	LOADC
	SHRQ $3, CX
	JZ   done
loop:
	VMOVUPS (SI), Y4
	VSUBPS Y12, Y4, Y4
	VCVTPS2PD Y4, Z0
	EXP8
	VCVTPD2PS Z0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func swigluAVX512(dst, gate, up *float32, n int)
// dst[i] = gate[i] / (1 + float32(exp(-gate[i]))) · up[i] for n a multiple
// of 8, each step rounded to float32 as the generic code does.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ up+16(FP), BX
	MOVQ n+24(FP), CX
	LOADC
	VBROADCASTSS expc1f<>(SB), Y11
	SHRQ $3, CX
	JZ   sdone
sloop:
	VMOVUPS (SI), Y4
	VXORPS Y5, Y5, Y5
	VSUBPS Y4, Y5, Y5
	VCVTPS2PD Y5, Z0
	EXP8
	VCVTPD2PS Z0, Y0
	VADDPS Y11, Y0, Y0
	VDIVPS Y0, Y4, Y4
	VMULPS (BX), Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DI
	DECQ CX
	JNZ  sloop
sdone:
	VZEROUPPER
	RET

DATA expc1f<>+0(SB)/4, $1.0
GLOBL expc1f<>(SB), RODATA|NOPTR, $4

// Constants of the float32 exponential of expBlockAVX512 (expBlockGeneric
// has the same values): log2(e), ln2 in a part exact in 9 bits and the
// rest, Cephes' expf coefficients, 1.0 and the clamp range.
DATA expf32c<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expf32c<>+4(SB)/4, $0x3f318000  // 0.693359375
DATA expf32c<>+8(SB)/4, $0xb95e8083  // -2.12194440e-4
DATA expf32c<>+12(SB)/4, $0x39506967 // 1.9875691500e-4
DATA expf32c<>+16(SB)/4, $0x3ab743ce // 1.3981999507e-3
DATA expf32c<>+20(SB)/4, $0x3c088908 // 8.3334519073e-3
DATA expf32c<>+24(SB)/4, $0x3d2aa9c1 // 4.1665795894e-2
DATA expf32c<>+28(SB)/4, $0x3e2aaaaa // 1.6666665459e-1
DATA expf32c<>+32(SB)/4, $0x3f000000 // 0.5
DATA expf32c<>+36(SB)/4, $0x3f800000 // 1.0
DATA expf32c<>+40(SB)/4, $0xc2dc0000 // -110
DATA expf32c<>+44(SB)/4, $0x42b00000 // 88
GLOBL expf32c<>(SB), RODATA|NOPTR, $48

// EXPF16 sets Zd = exp(Zd - Zm) for 16 float32 lanes, with the steps of
// expBlockGeneric, each rounded to float32 (the constants are broadcast
// from memory); Zk and Zp are scratch.
#define EXPF16(Zd, Zk, Zp, Zm) \
	VSUBPS Zm, Zd, Zd; \
	VMAXPS.BCST expf32c<>+40(SB), Zd, Zd; \
	VMINPS.BCST expf32c<>+44(SB), Zd, Zd; \
	VMULPS.BCST expf32c<>+0(SB), Zd, Zk; \
	VRNDSCALEPS $0, Zk, Zk; \
	VMULPS.BCST expf32c<>+4(SB), Zk, Zp; \
	VSUBPS Zp, Zd, Zd; \
	VMULPS.BCST expf32c<>+8(SB), Zk, Zp; \
	VSUBPS Zp, Zd, Zd; \
	VMULPS.BCST expf32c<>+12(SB), Zd, Zp; \
	VADDPS.BCST expf32c<>+16(SB), Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VADDPS.BCST expf32c<>+20(SB), Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VADDPS.BCST expf32c<>+24(SB), Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VADDPS.BCST expf32c<>+28(SB), Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VADDPS.BCST expf32c<>+32(SB), Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VMULPS Zd, Zp, Zp; \
	VADDPS Zd, Zp, Zp; \
	VADDPS.BCST expf32c<>+36(SB), Zp, Zp; \
	VSCALEFPS Zk, Zp, Zd

// func expRowsAVX512(x *float32, m *float32, rows int)
// x[r·64 + j] = exp(x[r·64 + j] - m[r]) for rows ≥ 1 blocks of 64
// (expRowsGeneric): four independent chains a row, and the next row's
// overlap them (the registers are renamed).
TEXT ·expRowsAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ rows+16(FP), CX
erow:
	VBROADCASTSS (SI), Z30
	VMOVUPS 0(DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	EXPF16(Z0, Z8, Z16, Z30)
	EXPF16(Z1, Z9, Z17, Z30)
	EXPF16(Z2, Z10, Z18, Z30)
	EXPF16(Z3, Z11, Z19, Z30)
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $4, SI
	ADDQ $256, DI
	DECQ CX
	JNZ  erow
	VZEROUPPER
	RET
