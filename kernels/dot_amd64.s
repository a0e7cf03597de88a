//go:build !purego

#include "textflag.h"

// REDUCE adds the 8 lanes of y as ((l0+l4)+(l1+l5)) + ((l2+l6)+(l3+l7))
// into the low lane of x (x is y's low half), using t.
#define REDUCE(y, x, t) \
	VEXTRACTF128 $1, y, t; \
	VADDPS t, x, x; \
	VMOVSHDUP x, t; \
	VADDPS t, x, x; \
	VMOVHLPS x, x, t; \
	VADDSS t, x, x

// func dotAVX(a, b *float32, n int) float32
// Σ a[i]·b[i] in 8 lanes with separate multiply and add, lanes added as
// ((l0+l4)+(l1+l5)) + ((l2+l6)+(l3+l7)), the tail added to lane 0 in
// order: exactly the generic Dot.
TEXT ·dotAVX(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   tail
loop:
	VMOVUPS (SI), Y1
	VMULPS  (DI), Y1, Y1
	VADDPS  Y1, Y0, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   reduce
tailloop:
	VMOVSS (SI), X1
	VMULSS (DI), X1, X1
	VADDSS X1, X0, X2
	VBLENDPS $1, Y2, Y0, Y0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  tailloop
reduce:
	REDUCE(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX(y *float32, a float32, x *float32, n int)
// y[i] += a·x[i] (multiply, then add).
TEXT ·axpyAVX(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS a+8(FP), Y3
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   tail
loop:
	VMULPS (SI), Y3, Y1
	VADDPS (DI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ DX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
tailloop:
	VMULSS (SI), X3, X1
	VADDSS (DI), X1, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  tailloop
done:
	VZEROUPPER
	RET

// func scaleAVX(x *float32, s float32, n int)
// x[i] *= s.
TEXT ·scaleAVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	VBROADCASTSS s+8(FP), Y3
	MOVQ n+16(FP), CX
	MOVQ CX, DX
	SHRQ $3, DX
	JZ   tail
loop:
	VMULPS (DI), Y3, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	DECQ DX
	JNZ  loop
tail:
	ANDQ $7, CX
	JZ   done
tailloop:
	VMULSS (DI), X3, X1
	VMOVSS X1, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ  tailloop
done:
	VZEROUPPER
	RET

// func dotRowsAVX(q, k *float32, kstride, n, dim int, out *float32)
// out[i] = Dot(q, k[i·kstride : i·kstride+dim]) for i < n, dim a multiple
// of 8; each dot sums exactly as dotAVX, four rows at a time.
TEXT ·dotRowsAVX(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), DI
	MOVQ kstride+16(FP), R8
	SHLQ $2, R8
	MOVQ n+24(FP), CX
	MOVQ dim+32(FP), R9
	SHRQ $3, R9
	MOVQ out+40(FP), BX
	LEAQ (R8)(R8*2), R10
four:
	CMPQ CX, $4
	JLT  one
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ SI, R11
	MOVQ DI, R12
	MOVQ R9, DX
fourloop:
	VMOVUPS (R11), Y4
	VMULPS (R12), Y4, Y5
	VMULPS (R12)(R8*1), Y4, Y6
	VMULPS (R12)(R8*2), Y4, Y7
	VMULPS (R12)(R10*1), Y4, Y8
	VADDPS Y5, Y0, Y0
	VADDPS Y6, Y1, Y1
	VADDPS Y7, Y2, Y2
	VADDPS Y8, Y3, Y3
	ADDQ $32, R11
	ADDQ $32, R12
	DECQ DX
	JNZ  fourloop
	REDUCE(Y0, X0, X9)
	MOVSS X0, (BX)
	REDUCE(Y1, X1, X9)
	MOVSS X1, 4(BX)
	REDUCE(Y2, X2, X9)
	MOVSS X2, 8(BX)
	REDUCE(Y3, X3, X9)
	MOVSS X3, 12(BX)
	LEAQ (DI)(R8*4), DI
	ADDQ $16, BX
	SUBQ $4, CX
	JMP  four
one:
	TESTQ CX, CX
	JZ   done
	VXORPS Y0, Y0, Y0
	MOVQ SI, R11
	MOVQ DI, R12
	MOVQ R9, DX
oneloop:
	VMOVUPS (R11), Y4
	VMULPS (R12), Y4, Y5
	VADDPS Y5, Y0, Y0
	ADDQ $32, R11
	ADDQ $32, R12
	DECQ DX
	JNZ  oneloop
	REDUCE(Y0, X0, X9)
	MOVSS X0, (BX)
	ADDQ R8, DI
	ADDQ $4, BX
	DECQ CX
	JMP  one
done:
	VZEROUPPER
	RET

// func axpyRowsAVX(o, p, v *float32, vstride, n, dim int)
// o[j] = (…((o[j] + p[0]·v[0][j]) + p[1]·v[1][j]) …) for j < dim, rows
// v[i] = v[i·vstride:], dim a multiple of 8: per element the sum of
// AXPY over the rows in order, with o kept in registers 64 columns at a
// time.
TEXT ·axpyRowsAVX(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ p+8(FP), BX
	MOVQ v+16(FP), SI
	MOVQ vstride+24(FP), R8
	SHLQ $2, R8
	MOVQ n+32(FP), R9
	MOVQ dim+40(FP), CX
	SHRQ $3, CX
chunk:
	TESTQ CX, CX
	JZ   done
	CMPQ CX, $8
	JLT  small
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	MOVQ SI, R11
	MOVQ BX, R12
	MOVQ R9, DX
	TESTQ DX, DX
	JZ   store8
rows8:
	VBROADCASTSS (R12), Y15
	VMULPS (R11), Y15, Y8
	VMULPS 32(R11), Y15, Y9
	VMULPS 64(R11), Y15, Y10
	VMULPS 96(R11), Y15, Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	VMULPS 128(R11), Y15, Y8
	VMULPS 160(R11), Y15, Y9
	VMULPS 192(R11), Y15, Y10
	VMULPS 224(R11), Y15, Y11
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	ADDQ $4, R12
	ADDQ R8, R11
	DECQ DX
	JNZ  rows8
store8:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $8, CX
	JMP  chunk
small:
	VMOVUPS (DI), Y0
	MOVQ SI, R11
	MOVQ BX, R12
	MOVQ R9, DX
	TESTQ DX, DX
	JZ   store1
rows1:
	VBROADCASTSS (R12), Y15
	VMULPS (R11), Y15, Y8
	VADDPS Y8, Y0, Y0
	ADDQ $4, R12
	ADDQ R8, R11
	DECQ DX
	JNZ  rows1
store1:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JMP  chunk
done:
	VZEROUPPER
	RET
