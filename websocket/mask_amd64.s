//go:build amd64 && !purego

#include "textflag.h"

// Both mask functions have the same shape:
//   1. for buffers of 256 bytes or more, mask single bytes, then 2, 4, 8 and
//      16, until the pointer is aligned to the vector size: frame payloads
//      start at odd offsets in the read buffer, and vector stores that cross
//      a cache line cost up to twice as much (64 KiB at offset 6 ran 40%
//      slower unaligned). Single and 2-byte steps move the key, so the vector
//      key is built only after the head. Shorter buffers skip this: the
//      head's read-modify-writes cost more than the few split stores;
//   2. the vector loop, unrolled four times;
//   3. the tail in 16, 8, 4 and single bytes.
// Registers: DI = pointer, CX = bytes left, AX = key (32 bits, rotated as
// bytes are consumed), DX = key doubled to 64 bits, X0/Y0 = key broadcast.

// func maskAsm(b []byte, key uint32)
TEXT ·maskAsm(SB), NOSPLIT, $0-28
	CMPB ·maskHasAVX2(SB), $0
	JEQ  sse2
	JMP  ·maskAVX2(SB)

sse2:
	JMP ·maskSSE2(SB) // SSE2 is part of the amd64 baseline.

// func maskAVX2(b []byte, key uint32)
TEXT ·maskAVX2(SB), NOSPLIT, $0-28
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	MOVL key+24(FP), AX

	CMPQ CX, $256
	JB   avx2_vec

	// Head: align DI to 32. At most 31 bytes, and CX >= 256 here.
	TESTQ $1, DI
	JZ    avx2_a2
	XORB  AL, (DI)
	RORL  $8, AX
	INCQ  DI
	DECQ  CX

avx2_a2:
	TESTQ $2, DI
	JZ    avx2_a4
	XORW  AX, (DI)
	RORL  $16, AX
	ADDQ  $2, DI
	SUBQ  $2, CX

avx2_a4:
	TESTQ $4, DI
	JZ    avx2_a8
	XORL  AX, (DI)
	ADDQ  $4, DI
	SUBQ  $4, CX

avx2_a8:
	MOVL  AX, DX
	SHLQ  $32, DX
	ORQ   AX, DX
	TESTQ $8, DI
	JZ    avx2_a16
	XORQ  DX, (DI)
	ADDQ  $8, DI
	SUBQ  $8, CX

avx2_a16:
	MOVQ  DX, X0
	PUNPCKLQDQ X0, X0
	TESTQ $16, DI
	JZ    avx2_vec
	MOVOU (DI), X1
	PXOR  X0, X1
	MOVOU X1, (DI)
	ADDQ  $16, DI
	SUBQ  $16, CX

avx2_vec:
	MOVD         AX, X0
	VPBROADCASTD X0, Y0
	CMPQ         CX, $128
	JB           avx2_32

avx2_loop128:
	VPXOR   (DI), Y0, Y1
	VPXOR   32(DI), Y0, Y2
	VPXOR   64(DI), Y0, Y3
	VPXOR   96(DI), Y0, Y4
	VMOVDQU Y1, (DI)
	VMOVDQU Y2, 32(DI)
	VMOVDQU Y3, 64(DI)
	VMOVDQU Y4, 96(DI)
	ADDQ    $128, DI
	SUBQ    $128, CX
	CMPQ    CX, $128
	JAE     avx2_loop128

avx2_32:
	CMPQ    CX, $32
	JB      avx2_tail
	VPXOR   (DI), Y0, Y1
	VMOVDQU Y1, (DI)
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     avx2_32

avx2_tail:
	// Leave the 256-bit state before any SSE instruction; X0 keeps the key.
	VZEROUPPER
	JMP mask_tail16<>(SB)

// func maskSSE2(b []byte, key uint32)
TEXT ·maskSSE2(SB), NOSPLIT, $0-28
	MOVQ b_base+0(FP), DI
	MOVQ b_len+8(FP), CX
	MOVL key+24(FP), AX

	CMPQ CX, $256
	JB   sse2_vec

	// Head: align DI to 16. At most 15 bytes, and CX >= 256 here.
	TESTQ $1, DI
	JZ    sse2_a2
	XORB  AL, (DI)
	RORL  $8, AX
	INCQ  DI
	DECQ  CX

sse2_a2:
	TESTQ $2, DI
	JZ    sse2_a4
	XORW  AX, (DI)
	RORL  $16, AX
	ADDQ  $2, DI
	SUBQ  $2, CX

sse2_a4:
	TESTQ $4, DI
	JZ    sse2_a8
	XORL  AX, (DI)
	ADDQ  $4, DI
	SUBQ  $4, CX

sse2_a8:
	TESTQ $8, DI
	JZ    sse2_vec
	MOVL  AX, DX
	SHLQ  $32, DX
	ORQ   AX, DX
	XORQ  DX, (DI)
	ADDQ  $8, DI
	SUBQ  $8, CX

sse2_vec:
	MOVL       AX, DX
	SHLQ       $32, DX
	ORQ        AX, DX
	MOVQ       DX, X0
	PUNPCKLQDQ X0, X0
	CMPQ       CX, $64
	JB         sse2_16

sse2_loop64:
	MOVOU (DI), X1
	MOVOU 16(DI), X2
	MOVOU 32(DI), X3
	MOVOU 48(DI), X4
	PXOR  X0, X1
	PXOR  X0, X2
	PXOR  X0, X3
	PXOR  X0, X4
	MOVOU X1, (DI)
	MOVOU X2, 16(DI)
	MOVOU X3, 32(DI)
	MOVOU X4, 48(DI)
	ADDQ  $64, DI
	SUBQ  $64, CX
	CMPQ  CX, $64
	JAE   sse2_loop64

sse2_16:
	JMP mask_tail16<>(SB)

// mask_tail16 masks the last CX < 64 bytes at DI (fewer than 32 when
// reached from maskAVX2), with the key in AX and X0 (X0 need not be set
// when CX < 16). It returns for its caller.
TEXT mask_tail16<>(SB), NOSPLIT|NOFRAME, $0
tail16:
	CMPQ CX, $16
	JB   tail8
	MOVOU (DI), X1
	PXOR  X0, X1
	MOVOU X1, (DI)
	ADDQ  $16, DI
	SUBQ  $16, CX
	JMP   tail16

tail8:
	CMPQ CX, $8
	JB   tail4
	MOVL AX, DX
	SHLQ $32, DX
	ORQ  AX, DX
	XORQ DX, (DI)
	ADDQ $8, DI
	SUBQ $8, CX

tail4:
	CMPQ CX, $4
	JB   tail1
	XORL AX, (DI)
	ADDQ $4, DI
	SUBQ $4, CX

tail1:
	TESTQ CX, CX
	JZ    done
	XORB  AL, (DI)
	RORL  $8, AX
	INCQ  DI
	DECQ  CX
	JMP   tail1

done:
	RET

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() (a, d uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, a+0(FP)
	MOVL DX, d+4(FP)
	RET

