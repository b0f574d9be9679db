# Runs the tcltest suites: tclsh tests/tcl/all.tcl ?-file NAME.test? ...
# Exits non-zero when any test fails (tcltest 2.5 returns 1 from runAllTests).
package require tcltest 2.5
tcltest::configure -testdir [file dirname [file normalize [info script]]] {*}$argv
exit [tcltest::runAllTests]
