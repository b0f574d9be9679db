# tcltorch: PyTorch for Tcl.  This directory is printed by
#     python -m tcltorch --tcl-path
# so that  export TCLLIBPATH=$(python -m tcltorch --tcl-path)  finds the package.
if {![package vsatisfies [package provide Tcl] 8.6-]} return
package ifneeded tcltorch 0.1.0 [list apply {{dir} {
    if {"tcltorch_reinstall" in [interp hidden {}]} {
        # Loaded here before, then forgotten (namespace delete ::torch, package forget):
        # Tcl's load would do nothing now, so install the commands again.
        interp invokehidden {} tcltorch_reinstall
        return
    }
    set libs [glob -nocomplain -directory [file dirname $dir] \
        libtcltorch*[info sharedlibextension]]
    if {[llength $libs] == 0} {
        return -code error -errorcode {TORCH INIT} \
            "tcltorch: libtcltorch not found in [file dirname $dir] (is the package built?)"
    }
    load [lindex $libs 0] Tcltorch
}} $dir]
