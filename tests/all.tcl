# all.tcl: run the test files in one process and report.
#
#   tclsh tests/all.tcl ?-match TESTS? ?-skip TESTS? ?-verbose LEVEL? ?FILE...?
#
# FILE is a glob for test files in tests/ ("golden", "prop*", or
# "golden.test"); without any, every tests/*.test runs.  -match and -skip
# take glob patterns of test names (e.g. -match golden-3.*) and, like
# -verbose, go to tcltest::configure.  The last line printed is always
# "N passed, N failed"; the exit status is 0 only if nothing failed and
# something passed.

set ::reel_all 1 ;# tells finish_test that we report, not each file
source [file join [file dirname [file normalize [info script]]] lib.tcl]

# Our variables live in ::all: test files run at global level and may use
# any global name.
namespace eval all {
    variable opts {}
    variable patterns {}
    variable files {}
    variable errors 0 ;# files that died outside any test
}
for {set all::i 0} {$all::i < [llength $argv]} {incr all::i} {
    set all::a [lindex $argv $all::i]
    if {[string match -* $all::a]} {
        lappend all::opts $all::a [lindex $argv [incr all::i]]
    } elseif {[string match *.test $all::a]} {
        lappend all::patterns $all::a
    } else {
        lappend all::patterns $all::a*.test
    }
}
if {[llength $all::opts]} {tcltest::configure {*}$all::opts}
if {![llength $all::patterns]} {set all::patterns {*.test}}

foreach all::p $all::patterns {
    set all::hits [glob -nocomplain -directory $::testdir -- $all::p]
    if {![llength $all::hits]} {puts "no test file matches $all::p"}
    lappend all::files {*}$all::hits
}
if {![llength $all::files]} {incr all::errors}

foreach all::file [lsort -unique $all::files] {
    set all::p0 $::tcltest::numTests(Passed)
    set all::f0 $::tcltest::numTests(Failed)
    if {[catch {uplevel #0 [list source $all::file]} all::msg]} {
        puts "==== [file tail $all::file] stopped outside a test: $all::msg"
        puts $::errorInfo
        lappend ::reel_failed [file tail $all::file]
        incr all::errors
    }
    puts [format "%-20s %d passed, %d failed" [file tail $all::file]: \
        [expr {$::tcltest::numTests(Passed) - $all::p0}] \
        [expr {$::tcltest::numTests(Failed) - $all::f0}]]
}

exit [report $all::errors]
