;; Column sums of bands of k rows of 16-bit stored values, 8 columns at a time (WebAssembly SIMD):
;; the vertical half of the box downsample (boxDownsample in preprocess.ts), which is the one pass over a
;; 13.6-Mpixel mammogram. Compiled into column-sums-wasm.ts by `npm run build:wasm` (wabt).
;;
;; columnSums(src, rows, columns, k, dst): for every row y of the u16 image at byte offset src,
;;   dst[floor(y / k) * columns + x] (u32) = sum of src[y' * columns + x] over the rows y' of that band.
;; The caller keeps k * k * 65535 below 2^32 (k <= 256), so no sum overflows.
(module
  (memory (export "memory") 1)
  (func (export "columnSums")
    (param $src i32) (param $rows i32) (param $columns i32) (param $k i32) (param $dst i32)
    (local $y i32) (local $s i32) (local $d i32) (local $x i32) (local $vec i32) (local $v v128)
    ;; Columns handled 8 at a time; the rest one by one.
    (local.set $vec (i32.and (local.get $columns) (i32.const -8)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $y) (local.get $columns)) (i32.const 1))))
        (local.set $d
          (i32.add (local.get $dst)
            (i32.shl (i32.mul (i32.div_u (local.get $y) (local.get $k)) (local.get $columns)) (i32.const 2))))
        (local.set $x (i32.const 0))
        (if (i32.eqz (i32.rem_u (local.get $y) (local.get $k)))
          (then
            ;; The band's first row: its values are the sums so far.
            (block $vDone
              (loop $vLoop
                (br_if $vDone (i32.ge_u (local.get $x) (local.get $vec)))
                (local.set $v (v128.load (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1)))))
                (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32x4.extend_low_i16x8_u (local.get $v)))
                (v128.store offset=16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32x4.extend_high_i16x8_u (local.get $v)))
                (local.set $x (i32.add (local.get $x) (i32.const 8)))
                (br $vLoop)))
            (block $tDone
              (loop $tLoop
                (br_if $tDone (i32.ge_u (local.get $x) (local.get $columns)))
                (i32.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32.load16_u (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1)))))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $tLoop))))
          (else
            ;; Every further row of the band is added to the sums.
            (block $vDone
              (loop $vLoop
                (br_if $vDone (i32.ge_u (local.get $x) (local.get $vec)))
                (local.set $v (v128.load (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1)))))
                (v128.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32x4.add
                    (v128.load (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2))))
                    (i32x4.extend_low_i16x8_u (local.get $v))))
                (v128.store offset=16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32x4.add
                    (v128.load offset=16 (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2))))
                    (i32x4.extend_high_i16x8_u (local.get $v))))
                (local.set $x (i32.add (local.get $x) (i32.const 8)))
                (br $vLoop)))
            (block $tDone
              (loop $tLoop
                (br_if $tDone (i32.ge_u (local.get $x) (local.get $columns)))
                (i32.store (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2)))
                  (i32.add
                    (i32.load (i32.add (local.get $d) (i32.shl (local.get $x) (i32.const 2))))
                    (i32.load16_u (i32.add (local.get $s) (i32.shl (local.get $x) (i32.const 1))))))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $tLoop)))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rowLoop)))))
