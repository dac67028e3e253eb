;; The weight layout kernel: dst[o][k] = f32(src[k][o] * scale[o]) over 4x4 tiles with SIMD.
;; src is the model's float32 tensor_content, read in place (v128.load needs no
;; alignment); dst (float32) and scale (float64) are regions of the same memory. The
;; product is taken in float64 and rounded once, exactly like the scalar path. Only the part
;; k < K4, o < O4 (multiples of 4) is done here; the caller does the rest.
;; Four output rows (o..o+3) at a time, along k: the stores run through four output rows
;; in order, a whole cache line at a time, while the 16-byte reads from four source rows
;; come back to the same lines at the next o (they stay in cache). The other way round
;; (k outer) leaves partly written lines behind, to be read back and written again. Each tile:
;; four source rows (k..k+3, columns o..o+3) are scaled first, with the columns' scales
;; as two f64x2 vectors loaded once per o, then transposed into four output rows.
;; Everything is written out in one function: the engine in Node 20 does not inline
;; wasm calls.
;; Returns 1 when an output is NaN or infinite, else 0.
;; Compiled by scripts/build-wasm.mjs into transpose-wasm.ts (checked by a test).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "transpose") (param $src i32) (param $dst i32) (param $scale i32)
        (param $K i32) (param $O i32) (param $K4 i32) (param $O4 i32) (result i32)
    (local $k i32) (local $o i32) (local $p i32) (local $q i32) (local $Kb i32) (local $Ob i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $c v128) (local $acc v128) (local $s01 v128) (local $s23 v128)
    (local.set $Kb (i32.shl (local.get $K) (i32.const 2)))
    (local.set $Ob (i32.shl (local.get $O) (i32.const 2)))
    (local.set $acc (v128.const i32x4 0 0 0 0))
    (local.set $o (i32.const 0))
    (block $odone
      (loop $oloop
        (br_if $odone (i32.ge_u (local.get $o) (local.get $O4)))
        ;; The scales of columns o, o+1 and o+2, o+3.
        (local.set $s01 (v128.load (i32.add (local.get $scale) (i32.shl (local.get $o) (i32.const 3)))))
        (local.set $s23 (v128.load offset=16 (i32.add (local.get $scale) (i32.shl (local.get $o) (i32.const 3)))))
        (local.set $k (i32.const 0))
        (block $kdone
          (loop $kloop
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $K4)))
            ;; p = src + (k*O + o)*4: four rows of four, each scaled (f64) and rounded (f32).
            (local.set $p (i32.add (local.get $src)
              (i32.shl (i32.add (i32.mul (local.get $k) (local.get $O)) (local.get $o)) (i32.const 2))))
            (local.set $c (v128.load (local.get $p)))
            (local.set $r0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (local.get $s01)))
              (f32x4.demote_f64x2_zero (f64x2.mul
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $c) (local.get $c)))
                (local.get $s23)))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $r0) (local.get $r0))))
            (local.set $c (v128.load (i32.add (local.get $p) (local.get $Ob))))
            (local.set $r1 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (local.get $s01)))
              (f32x4.demote_f64x2_zero (f64x2.mul
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $c) (local.get $c)))
                (local.get $s23)))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $r1) (local.get $r1))))
            (local.set $c (v128.load (i32.add (local.get $p) (i32.shl (local.get $Ob) (i32.const 1)))))
            (local.set $r2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (local.get $s01)))
              (f32x4.demote_f64x2_zero (f64x2.mul
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $c) (local.get $c)))
                (local.get $s23)))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $r2) (local.get $r2))))
            (local.set $c (v128.load (i32.add (local.get $p) (i32.mul (local.get $Ob) (i32.const 3)))))
            (local.set $r3 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $c)) (local.get $s01)))
              (f32x4.demote_f64x2_zero (f64x2.mul
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $c) (local.get $c)))
                (local.get $s23)))))
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.sub (local.get $r3) (local.get $r3))))
            ;; 4x4 transpose.
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
            (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
            ;; q = dst + (o*K + k)*4: output rows o..o+3, columns k..k+3.
            (local.set $q (i32.add (local.get $dst)
              (i32.shl (i32.add (i32.mul (local.get $o) (local.get $K)) (local.get $k)) (i32.const 2))))
            (v128.store (local.get $q)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
            (v128.store (i32.add (local.get $q) (local.get $Kb))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
            (v128.store (i32.add (local.get $q) (i32.shl (local.get $Kb) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
            (v128.store (i32.add (local.get $q) (i32.mul (local.get $Kb) (i32.const 3)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $kloop)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $oloop)))
    (v128.any_true (f32x4.ne (local.get $acc) (local.get $acc)))))
