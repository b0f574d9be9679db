# tcltorch::test: small tcltest helpers for suites that test torch:: commands.
#
#   package require tcltorch::test
#   namespace import ::tcltorch::test::*
#
#   err SCRIPT          -> {message errorcode} of a script that must fail (evaluated in the caller)
#   near A B ?TOL?      -> 1 when the (nested) lists of numbers A and B agree within TOL (1e-6)
#   nearRel A B ?TOL?   -> 1 when A and B agree within TOL * (1 + |B|) elementwise (1e-5)
#   L TENSOR            -> torch::tensor_to_list
#   S TENSOR            -> torch::tensor_shape
#   T DATA ?DTYPE?      -> torch::tensor_create DATA -dtype DTYPE (float32)
#   I DATA ?SHAPE?      -> an int64 tensor of DATA (reshaped to SHAPE when given)
#   weights MODULE      -> the module's parameters as nested lists
#   nonTensor           -> a live handle that is not a tensor (a new module)
#   readBytes FILE      -> the bytes of FILE;  writeBytes FILE BYTES -> write FILE (binary)
#   freeAll             -> free every live handle (between tests)
package require Tcl 8.6-
package require tcltorch

namespace eval ::tcltorch::test {
    namespace export err near nearRel L S T I weights nonTensor readBytes writeBytes freeAll

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

    proc nearRel {a b {tol 1e-5}} {
        if {[llength $a] != [llength $b]} { return 0 }
        if {[llength $a] > 1 || [llength [lindex $a 0]] > 1} {
            foreach x $a y $b {
                if {![nearRel $x $y $tol]} { return 0 }
            }
            return 1
        }
        expr {abs($a - $b) <= $tol * (1.0 + abs($b))}
    }

    proc L {t} { torch::tensor_to_list $t }

    proc S {t} { torch::tensor_shape $t }

    proc T {data {dtype float32}} { torch::tensor_create $data -dtype $dtype }

    proc I {data {shape {}}} {
        if {$shape eq ""} { return [torch::tensor_create $data -dtype int64] }
        torch::tensor_create $data -shape $shape -dtype int64
    }

    proc weights {model} {
        lmap p [torch::layer_parameters $model] { torch::tensor_to_list $p }
    }

    # The first of these scripts that makes a handle other than a tensor (evaluated globally).
    proc nonTensor {} {
        foreach script {
            {torch::linear 2 2}
            {torch::optimizer_adafactor -parameters [torch::zeros {2} -requiresGrad 1]}
        } {
            if {![catch {uplevel #0 $script} h] && ![string match tensor* $h]} { return $h }
        }
        return ""
    }

    proc readBytes {file} {
        set f [open $file rb]
        try { read $f } finally { close $f }
    }

    proc writeBytes {file bytes} {
        set f [open $file wb]
        try { puts -nonewline $f $bytes } finally { close $f }
    }

    proc freeAll {} {
        foreach h [torch::handles] { torch::free $h }
    }
}

package provide tcltorch::test 0.1.0
