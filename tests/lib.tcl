# lib.tcl: helpers shared by every tests/*.test file, in the style of
# SQLite's tester.tcl.  A test file starts with
#
#     source [file join [file dirname [info script]] lib.tcl]
#
# and ends with [finish_test].  Run one file alone (tclsh tests/golden.test
# ?-match NAME?) or several, each in its own process (tclsh tests/all.tcl).
#
# Globals for test files: ::root (the repo), ::testdir (tests/), ::scratch.
#
# Environment:
#   REELC        compiler binary (default: build/reelc under the repo root);
#                any sanitizer report on its stderr fails the test (reelc)
#   REELC_PLAIN  the plain build, for sanitizer.test and faults.test
#                (default: build/reelc)
#   CC           C compiler for generated code (default: cc)
#   REEL_TARGET  --target for build_model (default: generic; "" = reelc's own)
#   REEL_TMPDIR  parent of the scratch directory (default: tests/tmp)

package require Tcl 8.6
package require tcltest 2.2
package require json

if {[info exists ::reel_lib_loaded]} return
set ::reel_lib_loaded 1

# Configuring tcltest ourselves stops it from parsing ::argv as its options;
# they are passed on (tclsh tests/golden.test -match golden-lrcn-*).
tcltest::configure -verbose {body error}
if {[llength $::argv]} {
    tcltest::configure {*}$::argv
}

set ::testdir [file dirname [file normalize [info script]]]
set ::root [file dirname $::testdir]
set ::reelc_bin [expr {[info exists ::env(REELC)] ? $::env(REELC)
                       : [file join $::root build reelc]}]
# The plain reelc, for files that compare another build with it.
set ::plain_reelc_bin [expr {[info exists ::env(REELC_PLAIN)] ? $::env(REELC_PLAIN)
                             : [file join $::root build reelc]}]
set ::reel_cc [expr {[info exists ::env(CC)] && $::env(CC) ne "" ? $::env(CC) : "cc"}]
set ::reel_target [expr {[info exists ::env(REEL_TARGET)] ? $::env(REEL_TARGET) : "generic"}]

# Flags every generated model is built with (the product promises them).
set ::reel_cflags {-std=c99 -O2 -Wall -Wextra -Werror -pedantic}
# The specs the per-spec tests loop over: specs/, then tests/specs/ when
# ALL is 1.  The full-width ResNet-18 LRCN (11.7M weights) is left to
# resnet.test; its narrow twin tests/specs/lrcn_resnet18_narrow.yaml has the
# same topology and goes through every loop.
proc model_specs {{all 0}} {
    set specs {}
    foreach f [lsort [glob [file join $::root specs *.yaml]]] {
        if {[file tail $f] ne "lrcn_resnet18.yaml"} {lappend specs $f}
    }
    if {$all} {lappend specs {*}[lsort [glob [file join $::root tests specs *.yaml]]]}
    return $specs
}

# What the code in DIR needs from the C compiler: AVX2 and FMA when reelc
# copied AVX2 kernels there (--target avx2).
proc target_cflags {dir} {
    return [expr {[llength [glob -nocomplain -directory $dir *_avx2.c]] ? {-mavx2 -mfma} : {}}]
}

#-------------------------------------------------------------------------
# Scratch space: one fresh directory per run, removed by finish_test when
# every test passed and kept (its path printed) otherwise.  A kept directory
# is removed by the next run once its process is gone.

proc scratch_init {} {
    set parent [expr {[info exists ::env(REEL_TMPDIR)] ? $::env(REEL_TMPDIR)
                      : [file join $::testdir tmp]}]
    if {[file isdirectory /proc/self]} {
        foreach old [glob -nocomplain -directory $parent run-*] {
            regexp {run-(\d+)$} $old -> id
            if {![file exists /proc/$id]} {file delete -force $old}
        }
    }
    set dir [file join $parent run-[pid]]
    if {[catch {file delete -force $dir; file mkdir $dir}]} {
        set tmp [expr {[info exists ::env(TMPDIR)] ? $::env(TMPDIR) : "/tmp"}]
        set dir [file join $tmp reel-tests-[pid]]
        file delete -force $dir
        file mkdir $dir
    }
    set ::scratch $dir
}
scratch_init

# A fresh, empty directory named $name inside the scratch directory.
proc scratch_dir {name} {
    set dir [file join $::scratch $name]
    file delete -force $dir
    file mkdir $dir
    return $dir
}

# A new file name in the scratch directory, never returned before.
proc scratch_file {{stem f}} {
    return [file join $::scratch $stem-[incr ::scratch_seq]]
}

#-------------------------------------------------------------------------
# Tests.  An expected result is matched SQLite-style: /RE/ is a regexp
# search, *GLOB* a glob match of the whole result, anything else must be
# equal as a string.

proc reel_match {expected actual} {
    if {[regexp {^/(.*)/$} $expected -> re]} {
        return [regexp -- $re $actual]
    }
    if {[string length $expected] >= 2 && [string match {[*]*[*]} $expected]} {
        return [string match $expected $actual]
    }
    return [expr {$expected eq $actual}]
}
tcltest::customMatch reel reel_match

set ::reel_failed {}

# Run one tcltest test in the caller's scope and remember its name if it
# failed, for the summary.
proc reel_test {name desc script expected} {
    set before $::tcltest::numTests(Failed)
    uplevel 2 [list tcltest::test $name $desc -body $script \
                   -match reel -result $expected]
    if {$::tcltest::numTests(Failed) > $before} {lappend ::reel_failed $name}
}

proc do_test {name script expected} {
    reel_test $name {} $script $expected
}

# The result of $script must be a list of numbers each within $tol (absolute)
# of the same element of $expected.  The expected list is kept aside so that
# a failure report shows a short body, not thousands of numbers.
proc do_close_test {name script expected tol {desc {}}} {
    if {$desc eq ""} {set desc "max abs err <= $tol"}
    set ::reel_expected($name) $expected
    reel_test $name $desc [list close_enough $script $name $tol] ok
}

# close_enough SCRIPT TEST TOL: evaluate SCRIPT in the test body's scope and
# compare it with the expected list of test TEST.
proc close_enough {script name tol} {
    return [compare_close [uplevel 1 $script] $::reel_expected($name) $tol]
}

proc compare_close {actual expected tol} {
    set n [llength $actual]
    if {$n != [llength $expected]} {
        return "got $n numbers, expected [llength $expected]"
    }
    set first -1
    set bad 0
    set max 0.0
    for {set i 0} {$i < $n} {incr i} {
        set a [lindex $actual $i]
        set e [lindex $expected $i]
        set d [abs_err $a $e]
        if {$d > $tol} {
            incr bad
            if {$first < 0} {set first $i; set fa $a; set fe $e}
        }
        if {$d > $max} {set max $d}
    }
    if {$first < 0} {return ok}
    return "$bad of $n differ; first at index $first: got [num $fa],\
        expected [num $fe]; max abs err [num $max %.3g] > tol $tol"
}

# Outputs on special-value inputs: NaN where EXPECTED has NaN, the same
# infinity where it has one, else a finite number within TOL * max(1, |e|)
# (relative for huge values).  "ok", or how many differ and the first.
proc compare_special {actual expected tol} {
    set n [llength $actual]
    if {$n != [llength $expected]} {
        return "got $n numbers, expected [llength $expected]"
    }
    set bad 0
    set i -1
    foreach a $actual e $expected {
        incr i
        if {[string match -nocase *nan* $e]} {
            set ok [string match -nocase *nan* $a]
        } elseif {[regexp {^([+-]?)Inf$} $e -> sign]} {
            set ok [expr {$a eq "${sign}Inf" || ($sign eq "+" && $a eq "Inf")}]
        } elseif {[string match -nocase *nan* $a] || [string match *Inf $a]} {
            set ok 0
        } else {
            set ok [expr {abs($a - $e) <= $tol * max(1.0, abs($e))}]
        }
        if {!$ok} {
            if {!$bad} {set first $i; set fa $a; set fe $e}
            incr bad
        }
    }
    if {!$bad} {return ok}
    return "$bad of $n differ; first at index $first: got [num $fa], expected [num $fe]"
}

# A number for a message: %.9g shows a float32 exactly; NaN, Inf as they are.
proc num {x {fmt %.9g}} {
    if {[catch {format $fmt $x} s]} {return $x}
    return $s
}

# |a - b|, with equal strings (Inf, NaN) at 0 and other non-finite cases Inf.
proc abs_err {a b} {
    if {$a eq $b} {return 0.0}
    if {[catch {expr {abs(double($a) - double($b))}} d]} {return Inf}
    return $d
}

proc max_abs_err {la lb} {
    if {[llength $la] != [llength $lb]} {
        error "max_abs_err: lengths [llength $la] and [llength $lb] differ"
    }
    set max 0.0
    foreach a $la b $lb {
        set d [abs_err $a $b]
        if {$d > $max} {set max $d}
    }
    return $max
}

# Compare two byte strings of float32s exactly: "ok" or the first float
# that differs.
proc same_floats {a b} {
    if {$a eq $b} {return ok}
    set na [expr {[string length $a] / 4}]
    set nb [expr {[string length $b] / 4}]
    if {$na != $nb} {return "got $na floats, expected $nb"}
    binary scan $a r* fa
    binary scan $b r* fb
    for {set i 0} {$i < $na} {incr i} {
        if {[string range $a [expr {4*$i}] [expr {4*$i+3}]] ne
            [string range $b [expr {4*$i}] [expr {4*$i+3}]]} {
            return "float $i of $na differs: got [num [lindex $fa $i]],\
                expected [num [lindex $fb $i]]"
        }
    }
    return "byte lengths [string length $a] and [string length $b] differ"
}

# memo KEY SCRIPT: evaluate SCRIPT in the caller once per KEY; later calls
# return the same result or rethrow the same error.  Lets several tests
# share one expensive build without the later ones failing obscurely.
proc memo {key script} {
    if {![info exists ::reel_memo($key)]} {
        set code [catch {uplevel 1 $script} res]
        set ::reel_memo($key) [list $code $res]
    }
    lassign $::reel_memo($key) code res
    if {$code == 1} {return -code error $res}
    return $res
}

#-------------------------------------------------------------------------
# Running programs.

# run_prog CMD ARG...: {exitcode stdout stderr}, never an error.  exitcode
# is the exit status, the signal name (SIGABRT, SIGSEGV, ...) if the program
# was killed, or -1 if it could not be started.
proc run_prog {args} {
    set out [scratch_file stdout]
    set err [scratch_file stderr]
    set code 0
    set msg ""
    if {[catch {exec {*}$args </dev/null >$out 2>$err} msg opts]} {
        set ec [dict get $opts -errorcode]
        switch -- [lindex $ec 0] {
            CHILDSTATUS {set code [lindex $ec 2]}
            CHILDKILLED {set code [lindex $ec 2]}
            default     {set code -1}
        }
    }
    set res [list $code [slurp $out] [slurp $err]]
    if {$code == -1} {lset res 2 [string trim "[lindex $res 2]\n$msg"]}
    file delete $out $err
    return $res
}

proc slurp {path {mode r}} {
    if {![file exists $path]} {return ""}
    set f [open $path $mode]
    set data [read $f]
    close $f
    return $data
}

# reelc ARG...: {exitcode stdout stderr} of the compiler; an error if its
# stderr holds a sanitizer report (reelc built with -fsanitize=address,
# undefined), whatever the exit status, so a finding fails the test.
proc reelc {args} {
    set res [run_prog $::reelc_bin {*}$args]
    set report [sanitizer_report [lindex $res 2]]
    if {$report ne ""} {
        error "reelc [join $args] (exit [lindex $res 0]) reported:\n$report"
    }
    return $res
}

# The sanitizer report in TEXT (AddressSanitizer, LeakSanitizer or UBSan's
# "runtime error:"), from its first line on, or "".
proc sanitizer_report {text} {
    set re {(?:AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|: runtime error: )}
    if {![regexp -indices -line "^.*$re.*\$" $text where]} {return ""}
    return [string range $text [lindex $where 0] [expr {[lindex $where 0] + 2000}]]
}

# Like reelc, but an error carrying stderr unless it exits 0; returns stdout.
proc reelc_ok {args} {
    lassign [reelc {*}$args] code out err
    if {$code != 0} {
        error "reelc [join $args] failed (exit $code):\n[string trim $err]"
    }
    return $out
}

#-------------------------------------------------------------------------
# Files: raw float32 and safetensors (little-endian throughout).

# Float32 bytes of a list of numbers.  `binary format r` turns +-Inf into
# +-FLT_MAX, so a list holding infinities is written value by value.
proc f32_bytes {floats} {
    if {[lsearch -regexp $floats {^[+-]?Inf}] < 0} {return [binary format r* $floats]}
    set bytes ""
    foreach x $floats {
        switch -regexp -- $x {
            {^\+?Inf} {append bytes [binary format iu 0x7f800000]}
            {^-Inf}   {append bytes [binary format iu 0xff800000]}
            default   {append bytes [binary format r $x]}
        }
    }
    return $bytes
}

proc write_f32 {path floats} {
    set f [open $path wb]
    puts -nonewline $f [f32_bytes $floats]
    close $f
}

proc read_f32 {path} {
    binary scan [slurp $path rb] r* v
    return $v
}

# read_safetensors PATH: dict name -> {shape values}.  Values are numbers;
# F32, F64, F16, BF16 and the integer types are decoded.
proc read_safetensors {path} {
    set data [slurp $path rb]
    if {[binary scan $data wu hlen] != 1 || 8 + $hlen > [string length $data]} {
        error "$path: not a safetensors file (bad header length)"
    }
    set text [encoding convertfrom utf-8 [string range $data 8 [expr {7 + $hlen}]]]
    if {[catch {json::json2dict $text} header]} {
        error "$path: bad JSON header: $header"
    }
    set base [expr {8 + $hlen}]
    set res {}
    dict for {name info} $header {
        if {$name eq "__metadata__"} continue
        set shape [dict get $info shape]
        lassign [dict get $info data_offsets] from to
        set bytes [string range $data [expr {$base + $from}] [expr {$base + $to - 1}]]
        if {[string length $bytes] != $to - $from} {
            error "$path: tensor $name: data past the end of the file"
        }
        set vals [st_decode [dict get $info dtype] $bytes]
        set count 1
        foreach d $shape {set count [expr {$count * $d}]}
        if {[llength $vals] != $count} {
            error "$path: tensor $name: [llength $vals] values for shape {$shape}"
        }
        dict set res $name [list $shape $vals]
    }
    return $res
}

proc st_decode {dtype bytes} {
    set v {}
    switch -- $dtype {
        F32  {binary scan $bytes r* v}
        F64  {binary scan $bytes q* v}
        I8   {binary scan $bytes c* v}
        U8 - BOOL {binary scan $bytes cu* v}
        I16  {binary scan $bytes s* v}
        I32  {binary scan $bytes i* v}
        I64  {binary scan $bytes w* v}
        BF16 {
            binary scan $bytes su* h
            binary scan [binary format i* [lmap x $h {expr {$x << 16}}]] r* v
        }
        F16 {
            binary scan $bytes su* h
            set v [lmap x $h {f16_value $x}]
        }
        default {error "unsupported safetensors dtype $dtype"}
    }
    return $v
}

proc f16_value {h} {
    set s [expr {$h & 0x8000 ? -1.0 : 1.0}]
    set e [expr {($h >> 10) & 0x1f}]
    set m [expr {$h & 0x3ff}]
    if {$e == 31} {return [expr {$m ? "NaN" : $s > 0 ? "Inf" : "-Inf"}]}
    if {$e == 0} {return [expr {$s * $m * 2.0**-24}]}
    return [expr {$s * (1024 + $m) * 2.0**($e - 25)}]
}

# write_safetensors PATH DICT: DICT maps name -> {shape values}; all F32.
proc write_safetensors {path tensors} {
    set parts {}
    set blob ""
    foreach name [lsort [dict keys $tensors]] {
        lassign [dict get $tensors $name] shape vals
        set from [string length $blob]
        append blob [f32_bytes $vals]
        lappend parts [format {"%s":{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}} \
            $name [join $shape ,] $from [string length $blob]]
    }
    set json "{[join $parts ,]}"
    # Pad with spaces so the data starts 8-byte aligned, as the format advises.
    append json [string repeat " " [expr {(8 - [string length $json] % 8) % 8}]]
    set f [open $path wb]
    puts -nonewline $f [binary format w [string length $json]]$json$blob
    close $f
}

#-------------------------------------------------------------------------
# Generated models.

# compile_model SPEC WEIGHTS_OR_SEED DIR ?TARGET?: run reelc compile into a
# fresh DIR and return the model name.  An integer selects random weights.
proc compile_model {spec w dir {target {}} {wtype f32}} {
    if {$target eq ""} {set target $::reel_target}
    set args [list compile $spec -o $dir --weight-type $wtype]
    if {[string is entier -strict $w]} {
        lappend args --random-weights $w
    } else {
        lappend args -w $w
    }
    if {$target ne ""} {lappend args --target $target}
    file delete -force $dir
    file mkdir $dir
    reelc_ok {*}$args
    return [model_name $dir]
}

# The model written in DIR: the one header that is not reel_runtime.h.
proc model_name {dir} {
    set hs {}
    foreach h [glob -nocomplain -tails -directory $dir *.h] {
        if {![string match reel_* $h]} {lappend hs [file rootname $h]}  ;# runtime headers
    }
    if {[llength $hs] != 1} {
        error "expected one model header in $dir, found: [lsort $hs]"
    }
    return [lindex $hs 0]
}

# cc_run CC ARG...: run a C compiler; an error with its messages on failure.
proc cc_run {cc args} {
    lassign [run_prog {*}$cc {*}$args] code out err
    if {$code != 0} {
        error "$cc failed (exit $code):\n[string trim "$out\n$err"]"
    }
}

# The sources of the model reelc wrote to DIR, built with CC and FLAGS: the
# model's own .c files, and objects of its runtime files (reel_*.c), which
# are the same for many models: each is compiled once per content, headers,
# compiler and flags in this test file's run (most of a small model's build).
proc model_sources {dir cc flags} {
    set srcs {}
    set headers [lmap h [lsort [glob -nocomplain -directory $dir reel_*.h]] {file_hash $h}]
    foreach src [lsort [glob -nocomplain -directory $dir *.c]] {
        if {![string match reel_* [file tail $src]]} {
            lappend srcs $src
            continue
        }
        set key [list runtime-object [file_hash $src] $headers $cc $flags]
        lappend srcs [memo $key {
            set obj [file join [memo runtime-objects {scratch_dir runtime-objects}] \
                         [array size ::reel_memo].o]
            cc_run $cc {*}$flags -I$dir -c $src -o $obj
            set obj
        }]
    }
    return $srcs
}

# build_driver DIR ?-cc CC? ?-cflags FLAGS? ?-extra FILES?: build
# tests/driver.c with the model reelc wrote to DIR into DIR/drive and
# return its path.
proc build_driver {dir args} {
    set opt [dict merge [list -cc $::reel_cc -cflags {} -extra {}] $args]
    set m [model_name $dir]
    set exe [file join $dir drive]
    unset -nocomplain ::reel_memo([list info $exe])
    set cc [dict get $opt -cc]
    set flags [list {*}$::reel_cflags {*}[target_cflags $dir] {*}[dict get $opt -cflags]]
    cc_run $cc {*}$flags -I$dir -DREEL_MODEL=$m -DREEL_MODEL_UP=[string toupper $m] \
        -DREEL_MODEL_H=\"$m.h\" \
        {*}[model_sources $dir $cc $flags] [file join $::testdir driver.c] \
        {*}[dict get $opt -extra] -o $exe -lm
    return $exe
}

# build_model ?-cc CC? ?-target T? ?-weight-type W? SPEC WEIGHTS_OR_SEED DIR ?CFLAGS? ?EXTRA?
# Compile SPEC with reelc into DIR, build the driver, return its path.
proc build_model {args} {
    set cc $::reel_cc
    set target ""
    set wtype f32
    while {[string match -* [lindex $args 0]]} {
        set args [lassign $args opt val]
        switch -- $opt {
            -cc     {set cc $val}
            -target {set target $val}
            -weight-type {set wtype $val}
            default {error "build_model: unknown option $opt"}
        }
    }
    if {[llength $args] < 3 || [llength $args] > 5} {
        error "usage: build_model ?-cc CC? ?-target T? spec weights_or_seed dir ?cflags? ?extra_sources?"
    }
    lassign $args spec w dir cflags extra
    compile_model $spec $w $dir $target $wtype
    return [build_driver $dir -cc $cc -cflags $cflags -extra $extra]
}

# drive_info EXE: {IN_SIZE OUT_SIZE CLIP_SIZE FORECAST_FLOATS ATTENTION_SIZE IN_TYPE}
# of a built driver (IN_TYPE: float, or uint8 for a camera's bytes).
proc drive_info {exe} {
    memo [list info $exe] {
        lassign [run_prog $exe info] code out err
        if {$code != 0} {error "$exe info failed ($code): $err"}
        string trim $out
    }
}

# run_drive EXE MODE FRAMES: run the driver on the flat list of input
# floats (a whole number of frames) and return its output as raw bytes.
proc run_drive {exe mode frames} {
    lassign [drive_info $exe] in
    set t [expr {[llength $frames] / $in}]
    if {$t * $in != [llength $frames]} {
        error "[llength $frames] input floats is not a whole number of $in-float frames"
    }
    set infile [scratch_file in]
    set outfile [scratch_file out]
    write_f32 $infile $frames
    lassign [run_prog $exe $mode $infile $t $outfile] code out err
    if {$code != 0} {error "drive $mode failed ($code): [string trim $err]"}
    set bytes [slurp $outfile rb]
    file delete $infile $outfile
    return $bytes
}

# Split a run (T frames, the clip, the forecast, then the clip after each
# frame and the attention weights after each frame) into {frames clip
# forecast clip_steps attention} lists of floats.
proc split_run {exe bytes} {
    lassign [drive_info $exe] in out clip fc att
    binary scan $bytes r* v
    set t [expr {([llength $v] - $clip - $fc) / ($out + $clip + $att)}]
    set parts {}
    foreach size [list [expr {$t * $out}] $clip $fc [expr {$t * $clip}] [expr {$t * $att}]] {
        lappend parts [lrange $v 0 $size-1]
        set v [lrange $v $size end]
    }
    return $parts
}

# T frames of deterministic pseudo-random input in [-1, 1) (bytes 0 to 255 for a
# model that takes uint8 frames).
proc random_frames {exe t {seed 1}} {
    lassign [drive_info $exe] in - - - - type
    set v [random_floats [expr {$t * $in}] $seed]
    if {$type eq "uint8"} {
        set v [lmap x $v {expr {int(($x + 1.0) * 128.0)}}]
    }
    return $v
}

# N deterministic pseudo-random floats in [-1, 1) from SEED.
proc random_floats {n seed} {
    set x $seed
    set v {}
    for {set i 0} {$i < $n} {incr i} {
        set x [expr {($x * 1103515245 + 12345) % 2147483648}]
        lappend v [expr {$x / 1073741824.0 - 1.0}]
    }
    return $v
}

#-------------------------------------------------------------------------
# Properties of a built driver on given input, shared by properties.tcl
# and harness.test.  Each returns "ok" or what differs.

# Frames of NaN and infinities, then a reset: the run equals a clean one.
proc check_poison {exe frames} {
    return [same_floats [run_drive $exe poison $frames] [run_drive $exe seq $frames]]
}

# Reset restores the initial state: a second run equals the first.
proc check_rerun {exe frames} {
    return [same_floats [run_drive $exe rerun $frames] [run_drive $exe seq $frames]]
}

# Contexts are independent: stepping two interleaved gives the same bytes as
# running each alone.
proc check_interleave {exe frames} {
    set both [run_drive $exe interleave $frames]
    set alone "[run_drive $exe seq $frames][run_drive $exe alone $frames]"
    return [same_floats $both $alone]
}

#-------------------------------------------------------------------------
# Static checks of a directory of generated code.

# Files that differ between two directories, or "same".
proc diff_dirs {a b} {
    set fa [lsort [glob -nocomplain -tails -directory $a *]]
    set fb [lsort [glob -nocomplain -tails -directory $b *]]
    if {$fa ne $fb} {return "file lists differ: {$fa} vs {$fb}"}
    set diff {}
    foreach f $fa {
        if {[slurp [file join $a $f] rb] ne [slurp [file join $b $f] rb]} {
            lappend diff $f
        }
    }
    if {[llength $diff]} {return "differ: $diff"}
    return same
}

# Allocator calls in the C files of DIR, as "file: name" items.
proc alloc_calls {dir} {
    set hits {}
    foreach f [lsort [glob -nocomplain -directory $dir *.c *.h]] {
        set text [slurp $f]
        regsub -all {/\*.*?\*/} $text " " text
        regsub -all {//[^\n]*} $text " " text
        regsub -all {"(\\.|[^"\\])*"} $text {""} text
        foreach {- name} [regexp -all -inline \
            {\m(?:__builtin_)?(malloc|calloc|realloc|free|alloca|aligned_alloc|posix_memalign|memalign|valloc|strdup)\s*\(} $text] {
            lappend hits "[file tail $f]: $name"
        }
    }
    return [lsort -unique $hits]
}

# SHA-256 of each regular file in DIR, as a sorted list of "NAME HASH" items.
proc dir_hashes {dir} {
    set files [lsort [glob -nocomplain -types f -tails -directory $dir *]]
    if {![llength $files]} {return {}}
    set out [exec sha256sum -- {*}[lmap f $files {file join $dir $f}]]
    set res {}
    foreach line [split $out \n] {
        regexp {^(\S+) [ *](.*)$} $line -> hash path
        lappend res [list [file tail $path] $hash]
    }
    return [lsort -index 0 $res]
}

# SHA-256 of one file.
proc file_hash {path} {
    return [lindex [exec sha256sum -- $path] 0]
}

#-------------------------------------------------------------------------
# End of a test file: print the summary and exit (all.tcl reads the last
# line, "N passed, N failed", and the "Failed tests:" line before it).

proc finish_test {} {
    exit [report]
}

# Print the failures and the final "N passed, N failed" line, clean up the
# scratch directory if all passed; return the exit status.
proc report {{extra_failed 0}} {
    set passed $::tcltest::numTests(Passed)
    set failed [expr {$::tcltest::numTests(Failed) + $extra_failed}]
    set skipped $::tcltest::numTests(Skipped)
    if {[llength $::reel_failed]} {
        puts "Failed tests: [join $::reel_failed { }]"
    }
    if {$skipped} {puts "$skipped skipped"}
    if {$failed} {
        puts "Scratch files kept in $::scratch"
    } else {
        file delete -force $::scratch
    }
    puts "$passed passed, $failed failed"
    return [expr {$failed > 0 || $passed == 0}]
}
