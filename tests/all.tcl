# all.tcl: run test files, each in a tclsh of its own, several at a time,
# and report.
#
#   tclsh tests/all.tcl ?OPTION...? ?FILE...?
#
# FILE is a glob for test files in tests/ ("golden", "prop*", or
# "golden.test"); without any, every tests/*.test runs.  Options:
#
#   -pass plain|sanitize|both
#       plain (the default): the files against reelc (-reelc).
#       sanitize: the files that exercise reelc's own code against the
#       AddressSanitizer/UBSan reelc (-san-reelc): cli.test, errors.test and
#       fuzz.test again, and sanitizer.test, which runs only in this pass.
#       both: the two passes, in one pool of jobs (what `make test` runs).
#       A file named on the command line that runs only in the sanitizer
#       pass runs in it whatever -pass says.
#   -jobs N        files run at once (default: the number of CPUs)
#   -timeout SECS  a file still running after SECS is killed and counts as
#                  failed (default 1200)
#   -reelc PATH    the plain reelc (default: $REELC, else build/reelc)
#   -san-reelc PATH  the sanitizer reelc (default: build/san/reelc)
#   -logs DIR      where each file's log goes (default: build/test-logs)
#   -testdir DIR   where the test files are (default: this directory)
#   -match TESTS, -skip TESTS, -verbose LEVEL
#                  passed on to every file (tcltest); TESTS are glob
#                  patterns of test names, e.g. -match golden-lrcn-*
#
# The longest files start first (the times of the last run, kept in the
# log directory, else the table below).  Each file's output goes to its own
# log, DIR/PASS/FILE.log, and is printed whole when the file ends, so logs
# never interleave.  A file that crashes, stops outside a test or runs past
# the timeout counts as one failed test.  The end is a table of per-file
# times, the failed tests, and one last line "total: N passed, N failed";
# the exit status is 0 only if nothing failed and something passed.

package require Tcl 8.6

namespace eval all {
    variable here [file dirname [file normalize [info script]]]
    variable root [file dirname $here]
    variable opt [dict create -pass plain -jobs 0 -timeout 1200 \
        -reelc [expr {[info exists ::env(REELC)] ? $::env(REELC)
                      : [file join $root build reelc]}] \
        -san-reelc [file join $root build san reelc] \
        -logs [file join $root build test-logs] -testdir $here]
    variable tcltest_opts {}   ;# passed on to every file
    variable patterns {}

    # The sanitizer pass: what reelc built with -fsanitize=address,undefined
    # must survive.  These files run in it again...
    variable san_again {cli.test errors.test fuzz.test}
    # ...and these only in it (they compare the two reelc builds).
    variable san_only {sanitizer.test}

    # Seconds each file took in a 2-job run on a 2-core machine, for the
    # order of the first run; later runs use the times of the last one.
    variable guess {
        plain,export.test 275 plain,oracle.test 250 plain,many.test 205 plain,generated.test 205
        plain,golden.test 190 plain,properties_avx2.test 155 plain,properties_generic.test 135
        plain,link.test 110 plain,lint.test 30 plain,cortexm.test 75 plain,kernels.test 50
        plain,longrun.test 45 plain,resnet.test 40 plain,demo.test 40 plain,faults.test 37
        plain,harness.test 10 plain,optable.test 10
        sanitize,sanitizer.test 195 sanitize,fuzz.test 35
    }

    variable queue {}      ;# jobs not started: {pass file}
    variable running {}    ;# channel -> job dict
    variable done {}       ;# finished job dicts, in order
    variable left 0
}

proc all::usage {msg} {
    puts stderr "all.tcl: $msg"
    puts stderr "usage: tclsh tests/all.tcl ?-pass plain|sanitize|both? ?-jobs N?\
        ?-timeout SECS? ?-reelc PATH? ?-san-reelc PATH? ?-logs DIR? ?-testdir DIR?\
        ?-match TESTS? ?-skip TESTS? ?-verbose LEVEL? ?FILE...?"
    exit 2
}

proc all::slurp {path} {
    set f [open $path r]
    set data [read $f]
    close $f
    return $data
}

proc all::ncpus {} {
    if {![catch {exec nproc} n] && [string is integer -strict $n] && $n > 0} {return $n}
    if {![catch {slurp /proc/cpuinfo} text]} {
        set n [regexp -all -line {^processor\s*:} $text]
        if {$n > 0} {return $n}
    }
    return 1
}

#-------------------------------------------------------------------------
# Options and the jobs.

proc all::parse {argv} {
    variable opt
    variable tcltest_opts
    variable patterns
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {![string match -* $a]} {
            lappend patterns [expr {[string match *.test $a] ? $a : "$a*.test"}]
            continue
        }
        if {$i + 1 >= [llength $argv]} {usage "option $a needs a value"}
        set v [lindex $argv [incr i]]
        if {$a in {-match -skip -verbose}} {
            lappend tcltest_opts $a $v
        } elseif {[dict exists $opt $a]} {
            dict set opt $a $v
        } else {
            usage "unknown option $a"
        }
    }
    if {[dict get $opt -pass] ni {plain sanitize both}} {
        usage "-pass must be plain, sanitize or both"
    }
    foreach o {-jobs -timeout} {
        if {![string is integer -strict [dict get $opt $o]] || [dict get $opt $o] < 0} {
            usage "$o needs a whole number"
        }
    }
    if {[dict get $opt -jobs] == 0} {dict set opt -jobs [ncpus]}
    foreach o {-reelc -san-reelc -logs -testdir} {
        dict set opt $o [file normalize [dict get $opt $o]]
    }
}

# The jobs, as {pass file} pairs.
proc all::jobs {} {
    variable opt
    variable patterns
    variable san_again
    variable san_only
    set named [llength $patterns]
    if {!$named} {set patterns {*.test}}
    set files {}
    foreach p $patterns {
        set hits [glob -nocomplain -tails -directory [dict get $opt -testdir] -- $p]
        if {![llength $hits]} {puts "no test file matches $p"; return {}}
        lappend files {*}$hits
    }
    set pass [dict get $opt -pass]
    set jobs {}
    foreach f [lsort -unique $files] {
        if {$f in $san_only} {
            if {$named || $pass ne "plain"} {lappend jobs [list sanitize $f]}
            continue
        }
        if {$pass in {plain both}} {lappend jobs [list plain $f]}
        if {$pass in {sanitize both} && $f in $san_again} {lappend jobs [list sanitize $f]}
    }
    return $jobs
}

# Expected seconds of each job: the last run's times, else the guesses.
proc all::expected {} {
    variable opt
    variable guess
    set t $guess
    set f [file join [dict get $opt -logs] times]
    if {![catch {slurp $f} text]} {
        foreach line [split $text \n] {
            if {[llength $line] == 3 && [string is double -strict [lindex $line 2]]} {
                dict set t [lindex $line 0],[lindex $line 1] [lindex $line 2]
            }
        }
    }
    return $t
}

proc all::save_times {} {
    variable opt
    variable done
    set t [dict create]
    set f [file join [dict get $opt -logs] times]
    if {![catch {slurp $f} text]} {
        foreach line [split $text \n] {
            if {[llength $line] == 3} {dict set t [lindex $line 0],[lindex $line 1] $line}
        }
    }
    foreach j $done {
        if {[dict get $j died] eq ""} {
            dict set t [dict get $j pass],[dict get $j file] \
                [list [dict get $j pass] [dict get $j file] [format %.1f [dict get $j secs]]]
        }
    }
    catch {
        set fd [open $f w]
        puts $fd [join [lsort [dict values $t]] \n]
        close $fd
    }
}

#-------------------------------------------------------------------------
# Running the jobs: each file in its own tclsh, its output into its log.

proc all::start {pass file} {
    variable opt
    variable tcltest_opts
    variable running
    set dir [file join [dict get $opt -logs] $pass]
    file mkdir $dir
    set log [file join $dir $file.log]
    set ::env(REELC) [dict get $opt [expr {$pass eq "plain" ? "-reelc" : "-san-reelc"}]]
    set ::env(REELC_PLAIN) [dict get $opt -reelc]
    set cmd [list [info nameofexecutable] [file join [dict get $opt -testdir] $file] \
                 {*}$tcltest_opts]
    set logfd [open $log w]
    if {[catch {open |[concat $cmd [list < /dev/null 2>@1]] r} chan]} {
        puts $logfd "cannot start $cmd: $chan"
        close $logfd
        finished [dict create pass $pass file $file log $log start [clock milliseconds] \
                      status "not started" timedout 0]
        return
    }
    fconfigure $chan -blocking 0 -translation binary
    fconfigure $logfd -translation binary
    set job [dict create pass $pass file $file log $log logfd $logfd chan $chan \
                 pid [lindex [pid $chan] 0] start [clock milliseconds] timedout 0]
    dict set job timer [after [expr {[dict get $opt -timeout] * 1000}] \
                            [list all::timeout $chan]]
    dict set running $chan $job
    fileevent $chan readable [list all::readable $chan]
}

proc all::readable {chan} {
    variable running
    set job [dict get $running $chan]
    set data [read $chan]
    if {$data ne ""} {
        puts -nonewline [dict get $job logfd] $data
        flush [dict get $job logfd]
    }
    if {![eof $chan]} return
    after cancel [dict get $job timer]
    fconfigure $chan -blocking 1
    set status 0
    if {[catch {close $chan} msg opts]} {
        set ec [dict get $opts -errorcode]
        switch -- [lindex $ec 0] {
            CHILDSTATUS {set status "exit [lindex $ec 2]"}
            CHILDKILLED {set status "killed by [lindex $ec 2]"}
            default     {set status "error: $msg"}
        }
    }
    close [dict get $job logfd]
    dict unset running $chan
    dict set job status $status
    finished $job
}

# The pids below PID, children first.
proc all::descendants {pid} {
    set kids [dict create]
    foreach p [glob -nocomplain -tails -directory /proc {[0-9]*}] {
        if {[catch {slurp /proc/$p/stat} st]} continue
        set rest [string range $st [expr {[string last ")" $st] + 2}] end]
        dict lappend kids [lindex $rest 1] $p
    }
    set out {}
    set queue [list $pid]
    while {[llength $queue]} {
        set queue [lassign $queue p]
        if {[dict exists $kids $p]} {
            foreach c [dict get $kids $p] {lappend out $c; lappend queue $c}
        }
    }
    return $out
}

# A file past the timeout: kill it and everything it started; its pipe
# then ends and readable reports it.
proc all::timeout {chan} {
    variable running
    if {![dict exists $running $chan]} return
    dict set running $chan timedout 1
    set pid [dict get $running $chan pid]
    catch {exec kill -KILL $pid {*}[descendants $pid]}
}

# Judge a finished job from its log and exit status.
proc all::finished {job} {
    variable opt
    variable tcltest_opts
    variable done
    variable left
    dict set job secs [expr {([clock milliseconds] - [dict get $job start]) / 1000.0}]
    set log [expr {[catch {slurp [dict get $job log]} text] ? "" : $text}]
    set passed 0
    set failed 0
    set names {}
    set summary 0
    foreach line [split $log \n] {
        if {[regexp {^(\d+) passed, (\d+) failed$} $line -> passed failed]} {set summary 1}
        if {[regexp {^Failed tests: (.*)$} $line -> n]} {set names $n}
    }
    set status [dict get $job status]
    set died ""
    if {[dict get $job timedout]} {
        set died "timed out after [dict get $opt -timeout] s"
    } elseif {$status eq "not started"} {
        set died "could not start"
    } elseif {!$summary} {
        set died "ended without a summary ([expr {$status eq "0" ? "exit 0" : $status}])"
    } elseif {$status ne "0" && $failed == 0} {
        set filtered [expr {[dict exists $tcltest_opts -match] || [dict exists $tcltest_opts -skip]}]
        if {$passed > 0 || !$filtered} {set died "$status with no failed test"}
    }
    if {$died ne ""} {
        incr failed
        lappend names "(the file: $died)"
    }
    dict set job passed $passed
    dict set job failed $failed
    dict set job names $names
    dict set job died $died
    lappend done $job

    puts [format "---- %s, %s pass: %d passed, %d failed, %.1f s" [dict get $job file] \
              [dict get $job pass] $passed $failed [dict get $job secs]]
    puts -nonewline $log
    if {$log ne "" && [string index $log end] ne "\n"} {puts ""}
    if {$died ne ""} {puts "==== [dict get $job file] ($died): counted as a failed test"}
    flush stdout
    incr left -1
    fill
}

# Start jobs while there are free slots.
proc all::fill {} {
    variable opt
    variable queue
    variable running
    while {[llength $queue] && [dict size $running] < [dict get $opt -jobs]} {
        set queue [lassign $queue job]
        start {*}$job
    }
}

# An error in a handler (stdout closed, say) would leave the loop waiting
# for ever: say so and stop.
proc bgerror {msg} {
    catch {puts stderr "all.tcl: $msg"}
    exit 2
}

#-------------------------------------------------------------------------

all::parse $argv
set all::jobs [all::jobs]
if {![llength $all::jobs]} {
    puts "total: 0 passed, 1 failed"
    exit 1
}
set all::times [all::expected]
set all::queue [lsort -decreasing -command [list apply {{t a b} {
    set ta [expr {[dict exists $t [join $a ,]] ? [dict get $t [join $a ,]] : 1}]
    set tb [expr {[dict exists $t [join $b ,]] ? [dict get $t [join $b ,]] : 1}]
    expr {$ta < $tb ? -1 : $ta > $tb}
}} $all::times] $all::jobs]
set all::left [llength $all::jobs]
file delete -force {*}[glob -nocomplain -directory [dict get $all::opt -logs] plain sanitize]
puts "running [llength [lsearch -all -index 0 $all::jobs plain]] test files in the plain pass\
    and [llength [lsearch -all -index 0 $all::jobs sanitize]] in the sanitizer pass,\
    [dict get $all::opt -jobs] at a time; logs in [dict get $all::opt -logs]"
set all::t0 [clock milliseconds]
all::fill
while {$all::left > 0} {vwait all::left}
all::save_times

# The summary: per-file times, longest first; failed tests; the total.
set all::wall [expr {([clock milliseconds] - $all::t0) / 1000.0}]
puts [format "==== %d files, %.1f s wall on %d jobs" [llength $all::done] $all::wall \
          [dict get $all::opt -jobs]]
set all::passed 0
set all::failed 0
foreach all::j [lsort -decreasing -command {apply {{a b} {
    expr {[dict get $a secs] < [dict get $b secs] ? -1 : [dict get $a secs] > [dict get $b secs]}
}}} $all::done] {
    puts [format "%8.1f s  %-24s %-9s %5d passed, %d failed" [dict get $all::j secs] \
              [dict get $all::j file] [dict get $all::j pass] \
              [dict get $all::j passed] [dict get $all::j failed]]
    incr all::passed [dict get $all::j passed]
    incr all::failed [dict get $all::j failed]
}
foreach all::j $all::done {
    if {[llength [dict get $all::j names]]} {
        puts "Failed in [dict get $all::j file] ([dict get $all::j pass] pass,\
            log [dict get $all::j log]): [join [dict get $all::j names] { }]"
    }
}
puts "total: $all::passed passed, $all::failed failed"
exit [expr {$all::failed > 0 || $all::passed == 0}]
