# tcltorch::test: small tcltest helpers for suites that test torch:: commands.
#
#   package require tcltorch::test
#   namespace import ::tcltorch::test::*
#
#   err SCRIPT          -> {message errorcode} of a script that must fail (evaluated in the caller)
#   near A B ?TOL?      -> 1 when the (nested) lists of numbers A and B agree within TOL (1e-6)
#   L TENSOR            -> torch::tensor_to_list
#   T DATA ?DTYPE?      -> torch::tensor_create DATA -dtype DTYPE (float32)
#   freeAll             -> free every live handle (between tests)
package require Tcl 8.6-
package require tcltorch

namespace eval ::tcltorch::test {
    namespace export err near L T freeAll

    proc err {script} {
        if {![catch {uplevel 1 $script} message options]} {
            return -code error "expected an error from: $script (got \"$message\")"
        }
        list $message [dict get $options -errorcode]
    }

    proc near {a b {tol 1e-6}} {
        if {[llength $a] != [llength $b]} { return 0 }
        if {[llength $a] == 1 && [llength [lindex $a 0]] == 1 && [string is double -strict $a]} {
            if {![string is double -strict $b]} { return 0 }
            if {$a == $b} { return 1 }
            return [expr {abs($a - $b) <= $tol}]
        }
        foreach x $a y $b {
            if {![near $x $y $tol]} { return 0 }
        }
        return 1
    }

    proc L {t} { torch::tensor_to_list $t }

    proc T {data {dtype float32}} { torch::tensor_create $data -dtype $dtype }

    proc freeAll {} {
        foreach h [torch::handles] { torch::free $h }
    }
}

package provide tcltorch::test 0.1.0
