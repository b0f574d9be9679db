# Tolerant comparison of computed floats, for tcltest files:
#     source [file join [file dirname [info script]] floats.tcl]
#     test x-1.1 {...} -body {...} -match near -result {0.0 0.46211715726000974}
# Transcendental functions, reductions, matmul and fused multiply-adds can differ in the last
# bits between the CPU vector kernels torch picks (default, AVX2, AVX-512), so their results are
# compared with a relative tolerance; exact computations (copies, integer maths, round trips)
# keep tcltest's exact match.  Numbers compare within tol * max(1, |expected|); lists compare
# element by element (nested to any depth); anything else must be equal.
proc near_equal {expected actual {tol 1e-6}} {
    if {$expected eq $actual} { return 1 }
    if {[string is double -strict $expected] && [string is double -strict $actual]} {
        if {[catch {expr {abs($actual - $expected) <= $tol * max(1.0, abs($expected))}} ok]} {
            return 0  ;# NaN against a number
        }
        return $ok
    }
    if {[catch {llength $expected} n] || [catch {llength $actual} m] || $n != $m} { return 0 }
    if {$n == 1 && [lindex $expected 0] eq $expected} { return 0 }  ;# two different atoms
    foreach e $expected a $actual {
        if {![near_equal $e $a $tol]} { return 0 }
    }
    return 1
}
::tcltest::customMatch near near_equal
