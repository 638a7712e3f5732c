# properties.tcl: promises the generated code makes beyond numerical
# accuracy (docs/spec.md, "Generated C"), checked on every specs/*.yaml
# by properties_generic.test (--target generic, and
# prop-noheap-catches-malloc) and properties_avx2.test (--target avx2),
# which share the procs below; two files, so that two cores share them.
#
#   prop-rerun-S-T      reset restores the initial state: rerun == seq,
#                       bit for bit
#   prop-interleave-S-T contexts are independent: interleaving two streams
#                       gives the same bits as running each alone
#   prop-gcc-novla-S-T, prop-clang-novla-S-T
#                       builds with gcc, and with clang, under -std=c99
#                       -Wall -Wextra -Werror -pedantic -Werror=vla (so no
#                       VLAs), and agrees with the normal build within 1e-5
#                       absolute
#   prop-noheap-catches-malloc
#                       noheap.c does catch an allocation (so
#                       prop-noheap-S-T can fail)
#   prop-noheap-S-T     linked with noheap.c (every allocator aborts), the
#                       model runs to completion with the same output bits
#   prop-compile-twice-same-S-T
#                       compiling twice into two directories gives
#                       identical files
#   prop-no-alloc-calls-S-T
#                       no allocator call (malloc, calloc, realloc, free,
#                       alloca, ...) in any generated file, comments and
#                       strings aside
#   prop-asan-S-T       built with -fsanitize=address,undefined, runs clean
#                       with the same output bits
#   prop-poison-S-T     8 frames of NaN, +-Inf and 3e38 do not crash it,
#                       and after reset the run has the same output bits as
#                       a clean one; prop-poison-asan-S-T the same in
#                       prop-asan's build (so no sanitizer trips either)
#   prop-valgrind-S-T   under valgrind memcheck (first 3 frames): no invalid
#                       access, no use of uninitialised memory, same output
#                       bits
#
# for each spec S of specs/ and target T (generic, avx2).
# Recursion, mutable globals and stack frames are checked in generated.test.
# Weights: the stem's golden weights if there are any, else --random-weights
# 1; input: the golden input, else 12 pseudo-random frames.  "The normal
# build" is with $CC (or cc).

set specs [model_specs]
set asan_flags {-g -fsanitize=address,undefined -fno-sanitize-recover=all}

proc prop_weights {stem} {
    set w [file join $::testdir golden $stem.weights.safetensors]
    expr {[file exists $w] ? $w : 1}
}

# The model built normally (default cc), shared by several tests.
proc prop_exe {spec} {
    set stem [file rootname [file tail $spec]]
    memo [list exe $spec $::reel_target] {
        build_model $spec [prop_weights $stem] [scratch_dir prop-$stem-$::reel_target]
    }
}

proc prop_input {spec} {
    set stem [file rootname [file tail $spec]]
    set io [file join $::testdir golden $stem.io.safetensors]
    memo [list input $spec $::reel_target] {
        if {[file exists $io]} {
            lindex [dict get [read_safetensors $io] input] 1
        } else {
            random_frames [prop_exe $spec] 12
        }
    }
}

# seq output bytes of the normal build, to compare other builds with.
proc prop_seq {spec} {
    memo [list seq $spec $::reel_target] {run_drive [prop_exe $spec] seq [prop_input $spec]}
}

# Build SPEC into a directory of its own with another compiler, flags or
# sources, run it in seq mode and compare with the normal build: bit for
# bit with TOL "exact" (same compiler), else within TOL (another compiler
# may order float operations differently).
proc variant_exe {spec name cc cflags {extra {}}} {
    set stem [file rootname [file tail $spec]]
    memo [list variant $spec $name $::reel_target] {
        build_model -cc $cc $spec [prop_weights $stem] \
            [scratch_dir prop-$stem-$name-$::reel_target] $cflags $extra
    }
}

proc prop_variant {spec name cc cflags {extra {}} {tol exact}} {
    set exe [variant_exe $spec $name $cc $cflags $extra]
    set got [run_drive $exe seq [prop_input $spec]]
    if {$tol eq "exact"} {return [same_floats $got [prop_seq $spec]]}
    binary scan $got r* a
    binary scan [prop_seq $spec] r* b
    return [compare_close $a $b $tol]
}

proc prop_rerun {spec} {check_rerun [prop_exe $spec] [prop_input $spec]}
proc prop_interleave {spec} {check_interleave [prop_exe $spec] [prop_input $spec]}

# Two compiles of SPEC into fresh directories.
proc prop_twice {spec} {
    set stem [file rootname [file tail $spec]]
    set w [prop_weights $stem]
    set t $::reel_target
    compile_model $spec $w [scratch_dir prop-$stem-one-$t]
    compile_model $spec $w [scratch_dir prop-$stem-two-$t]
    diff_dirs [file join $::scratch prop-$stem-one-$t] [file join $::scratch prop-$stem-two-$t]
}

proc prop_allocs {spec} {alloc_calls [file dirname [prop_exe $spec]]}

proc prop_poison {spec} {check_poison [prop_exe $spec] [prop_input $spec]}

# The poison run, in the sanitizer build too.
proc prop_poison_asan {spec} {
    check_poison [variant_exe $spec asan $::reel_cc $::asan_flags] [prop_input $spec]
}

# valgrind memcheck on the normal build, over the first 3 frames.
proc prop_valgrind {spec} {
    set exe [prop_exe $spec]
    lassign [drive_info $exe] in
    set frames [lrange [prop_input $spec] 0 [expr {3 * $in - 1}]]
    set infile [scratch_file in]
    set outfile [scratch_file out]
    write_f32 $infile $frames
    lassign [run_prog valgrind -q --error-exitcode=99 --track-origins=yes $exe seq $infile 3 $outfile] \
        code out err
    if {$code != 0} {return "valgrind exit $code: [string trim $err]"}
    same_floats [slurp $outfile rb] [run_drive $exe seq $frames]
}

# Every test of the header for each spec, with --target TARGET.
proc prop_tests {target} {
    set ::reel_target $target
    foreach spec $::specs {
        set t [file rootname [file tail $spec]]-$target
        do_test prop-rerun-$t [list prop_rerun $spec] ok
        do_test prop-interleave-$t [list prop_interleave $spec] ok
        foreach c {gcc clang} {
            do_test prop-$c-novla-$t [list prop_variant $spec $c $c {-Wvla -Werror=vla} {} 1e-5] ok
        }
        do_test prop-noheap-$t [list prop_variant $spec noheap $::reel_cc {} \
                                    [file join $::testdir noheap.c]] ok
        do_test prop-compile-twice-same-$t [list prop_twice $spec] same
        do_test prop-no-alloc-calls-$t [list prop_allocs $spec] {}
        do_test prop-asan-$t [list prop_variant $spec asan $::reel_cc $::asan_flags] ok
        do_test prop-poison-$t [list prop_poison $spec] ok
        do_test prop-poison-asan-$t [list prop_poison_asan $spec] ok
        do_test prop-valgrind-$t [list prop_valgrind $spec] ok
    }
}
