//go:build !purego

#include "textflag.h"

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
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDSS X1, X0, X0
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
