# tcltorch: PyTorch for Tcl.  This directory is printed by
#     python -m tcltorch --tcl-path
# so that  export TCLLIBPATH=$(python -m tcltorch --tcl-path)  finds the package, and
#     tcltorch --install-tcl ?DIR?
# writes a package folder on Tcl's auto_path that sources this file.  It lives in the
# top-level tcl/ of the source tree; a build copies it into tcltorch/tcl in the wheel.
if {![package vsatisfies [package provide Tcl] 8.6-]} return
package ifneeded tcltorch 0.1.0 [list apply {{dir} {
    if {"tcltorch_reinstall" in [interp hidden {}]} {
        # Loaded here before, then forgotten (namespace delete ::torch, package forget):
        # Tcl's load would do nothing now, so install the commands again.
        interp invokehidden {} tcltorch_reinstall
        return
    }
    # installed: this folder is tcltorch/tcl inside the Python package; in a source tree
    # (an editable install) it is the top-level tcl/ next to tcltorch/
    set libs {}
    foreach libdir [list [file dirname $dir] [file join [file dirname $dir] tcltorch]] {
        lappend libs {*}[glob -nocomplain -directory $libdir libtcltorch*[info sharedlibextension]]
    }
    if {[llength $libs] == 0} {
        return -code error -errorcode {TORCH INIT} \
            "tcltorch: libtcltorch not found next to $dir (is the package built?)"
    }
    load [lindex $libs 0] Tcltorch
}} $dir]
# tcltest helpers for suites that test torch:: commands (err, near, L, T, freeAll)
package ifneeded tcltorch::test 0.1.0 [list source [file join $dir tcltorch_test.tcl]]
# a live chart of training curves on a Tk canvas (pure Tcl/Tk; see docs/visualize.md)
package ifneeded tcltorch::chart 0.1.0 [list source [file join $dir tcltorch_chart.tcl]]
