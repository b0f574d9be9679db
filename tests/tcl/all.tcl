# Runs the tcltest suites: tclsh tests/tcl/all.tcl ?-file PATTERNS? ?-notfile PATTERNS? ?tcltest options?
#
# One tclsh for all of them: each file is sourced in a fresh child interpreter of this process
# (its own procs, variables, imported helpers and torch handle table), so Python and torch start
# once instead of once per file.  A file's `exit` ends only that file.  Each file's output is
# framed by "==== FILE start" and "==== FILE end ok|error: MESSAGE" lines (tests/test_tcl_suites.py
# reads them); tcltest's own "FILE: Total N Passed P Skipped S Failed F" line is inside the frame.
# Exits 1 when any test fails or a file could not be run to its end.
package require tcltest 2.5

set dir [file dirname [file normalize [info script]]]
tcltest::configure -testdir $dir {*}$argv

proc file_exit {{code 0}} {
    return -code error -errorcode [list TCLTEST_FILE EXIT $code] "the file called exit $code"
}

# cleanupTests in a child reports its counts here (tcltest's hook for a parent interpreter).
proc report {name total passed skipped failed args} {
    set ::counts [list $total $passed $skipped $failed]
    puts "$name:\tTotal\t$total\tPassed\t$passed\tSkipped\t$skipped\tFailed\t$failed"
}

set status 0
foreach file [tcltest::GetMatchingFiles] {
    set name [file tail $file]
    puts "==== $name start"
    flush stdout
    set ::counts {}
    set child [interp create]
    $child alias exit ::file_exit
    $child eval [list set argv0 $file]
    $child eval [list set argv $argv]
    $child eval [list set argc [llength $argv]]
    set here [pwd]
    set code [catch {
        $child eval {package require tcltest 2.5}
        $child alias ::tcltest::ReportToParent ::report $name
        $child eval [list tcltest::configure -testdir $dir {*}$argv]
        $child eval [list source $file]
    } result]
    cd $here
    catch {interp delete $child}
    if {!$code && $::counts eq ""} {
        set code 1
        set result "the file ended without cleanupTests (no totals)"
    }
    if {$code} {
        set status 1
        puts "==== $name end error: [string map {\n { }} $result]"
    } else {
        if {[lindex $::counts 3] > 0} { set status 1 }
        puts "==== $name end ok"
    }
    flush stdout
}
exit $status
