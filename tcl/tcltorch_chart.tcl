# tcltorch::chart -- a live chart of training curves on a Tk canvas (pure Tcl/Tk).
#
#   package require tcltorch::chart
#   tcltorch::chart::create .c -title "digits" -smoothing 0.6
#   pack .c -fill both -expand 1
#   tcltorch::chart::feed .c train/loss $step $value     ;# or: torch::summary_writer -chart .c
#
# A chart is a canvas with any number of named series. feed only appends a point; the chart is
# redrawn at most once per -interval milliseconds (and never more often than 50 times its own
# drawing time, so drawing costs about 2 % of a loop that feeds it every step). When
# it redraws inside a busy loop it lets Tk process pending events (-update all, the default:
# the window repaints and resizes while a script trains), and a timer draws the last points
# once the application is idle. Smoothing is TensorBoard's: an exponential moving average
# with debiasing; the raw curve is drawn faintly under the smoothed one.

package require Tcl 8.6
package require Tk 8.6

namespace eval ::tcltorch::chart {
    namespace export create feed configure cget clear flush describe known postscript series
    # per chart $w: options in opt($w,-name), series order in order($w), points in X($w,name)
    # and Y($w,name); timing in last($w) (ms of the last redraw), cost($w) (its duration)
    variable opt
    variable order
    variable X
    variable Y
    variable last
    variable cost
    variable pending
    variable redraws
    variable dead
    variable C   ;# per series: points transformed and smoothed so far (Redraw's cache)
    variable palette {#ff7043 #0077bb #009988 #cc3311 #33bbee #ee3377 #7e57c2 #666666}
    variable defaults {
        -width 640 -height 400 -title "" -xlabel step -ylabel "" -logscale 0 -smoothing 0.6
        -interval 100 -update all -background white -maxseries 8
    }
}

# create W ?-option value ...?  ->  W, a canvas widget showing the chart
proc ::tcltorch::chart::create {w args} {
    variable opt
    variable order
    variable last
    variable cost
    variable pending
    variable redraws
    variable dead
    variable defaults
    if {[winfo exists $w]} {
        return -code error -errorcode {TCLTORCH CHART EXISTS} "window \"$w\" already exists"
    }
    set options [Options $defaults $args]
    canvas $w -width [dict get $options -width] -height [dict get $options -height] \
        -background [dict get $options -background] -highlightthickness 0
    dict for {name value} $options { set opt($w,$name) $value }
    set order($w) {}
    set last($w) 0
    set cost($w) 0
    set pending($w) ""
    set redraws($w) 0
    unset -nocomplain dead($w)
    bind $w <Configure> [list ::tcltorch::chart::Schedule $w]
    bind $w <Destroy> [list ::tcltorch::chart::Forget $w]
    Redraw $w
    return $w
}

# Check "-name value" pairs against the defaults dict; returns the merged dict.
proc ::tcltorch::chart::Options {base words} {
    if {[llength $words] % 2} {
        return -code error -errorcode {TCLTORCH CHART ARGS} \
            "options must come in pairs: -name value (got \"$words\")"
    }
    set result $base
    foreach {name value} $words {
        if {![dict exists $base $name]} {
            return -code error -errorcode [list TCLTORCH CHART OPTION $name] \
                "bad option \"$name\": must be [join [dict keys $base] {, }]"
        }
        switch -- $name {
            -width - -height - -interval - -maxseries {
                if {![string is entier -strict $value] || $value < 0 || ($name ne "-interval" && $value < 1)} {
                    return -code error -errorcode [list TCLTORCH CHART VALUE $name] \
                        "invalid $name \"$value\": must be a positive integer"
                }
            }
            -logscale {
                if {![string is boolean -strict $value]} {
                    return -code error -errorcode [list TCLTORCH CHART VALUE $name] \
                        "invalid $name \"$value\": must be a boolean"
                }
            }
            -smoothing {
                if {![string is double -strict $value] || $value < 0 || $value >= 1} {
                    return -code error -errorcode [list TCLTORCH CHART VALUE $name] \
                        "invalid $name \"$value\": must be a number in \[0, 1)"
                }
            }
            -update {
                if {$value ni {all idletasks none}} {
                    return -code error -errorcode [list TCLTORCH CHART VALUE $name] \
                        "invalid $name \"$value\": must be all, idletasks or none"
                }
            }
        }
        dict set result $name $value
    }
    return $result
}

proc ::tcltorch::chart::Check {w} {
    variable opt
    if {![info exists opt($w,-width)]} {
        return -code error -errorcode [list TCLTORCH CHART UNKNOWN $w] \
            "no chart named \"$w\" (make one with tcltorch::chart::create)"
    }
}

# known W -> 1 when W is a live chart (or one that was destroyed: feeding it is a no-op)
proc ::tcltorch::chart::known {w} {
    variable opt
    variable dead
    expr {[info exists opt($w,-width)] || [info exists dead($w)]}
}

# configure W ?-option value ...?: change options (redraws); without options, all of them
proc ::tcltorch::chart::configure {w args} {
    variable opt
    Check $w
    set current {}
    foreach key [array names opt $w,-*] { dict set current [string range $key [string length $w,] end] $opt($key) }
    if {![llength $args]} { return $current }
    set merged [Options $current $args]
    dict for {name value} $merged { set opt($w,$name) $value }
    variable C
    array unset C $w,*
    $w configure -background $opt($w,-background)
    if {[dict exists $args -width] || [dict exists $args -height]} {
        $w configure -width $opt($w,-width) -height $opt($w,-height)
    }
    Redraw $w
    return
}

proc ::tcltorch::chart::cget {w name} {
    variable opt
    Check $w
    if {![info exists opt($w,$name)]} {
        return -code error -errorcode [list TCLTORCH CHART OPTION $name] "bad option \"$name\""
    }
    return $opt($w,$name)
}

# feed W SERIES STEP VALUE: append a point (a new series gets the next colour)
proc ::tcltorch::chart::feed {w series step value} {
    variable opt
    variable X
    variable Y
    variable last
    variable cost
    variable pending
    if {![info exists opt($w,-width)]} {
        variable dead
        if {[info exists dead($w)]} { return }   ;# the window was closed: training goes on
        Check $w
    }
    if {![string is double -strict $step] || ![string is double -strict $value]} {
        return -code error -errorcode {TCLTORCH CHART VALUE} \
            "tcltorch::chart::feed: step and value must be numbers (got \"$step\" and \"$value\")"
    }
    if {![info exists X($w,$series)]} {
        variable order
        if {[llength $order($w)] >= $opt($w,-maxseries)} {
            return -code error -errorcode {TCLTORCH CHART FULL} \
                "chart \"$w\" already shows $opt($w,-maxseries) series (-maxseries)"
        }
        lappend order($w) $series
        set X($w,$series) {}
        set Y($w,$series) {}
    }
    lappend X($w,$series) $step
    lappend Y($w,$series) $value
    set now [clock milliseconds]
    # redraw now when the interval has passed and drawing stays under ~2 % of the time (Tk repaints on top)
    if {$now - $last($w) >= max($opt($w,-interval), 50 * $cost($w))} {
        set t0 [clock microseconds]
        Redraw $w
        switch -- $opt($w,-update) {
            all { update }
            idletasks { update idletasks }
        }
        # what the next interval is measured against: drawing and Tk's repaint together
        if {[::info exists cost($w)]} { set cost($w) [expr {([clock microseconds] - $t0) / 1000.0}] }
    } elseif {$pending($w) eq ""} {
        set pending($w) [after $opt($w,-interval) [list ::tcltorch::chart::Redraw $w]]
    }
    return
}

# series W ?NAME? -> the series' names, or NAME's points as a list of {step value} pairs
proc ::tcltorch::chart::series {w {name ""}} {
    variable order
    variable X
    variable Y
    Check $w
    if {$name eq ""} { return $order($w) }
    if {![info exists X($w,$name)]} {
        return -code error -errorcode [list TCLTORCH CHART SERIES $name] \
            "chart \"$w\" has no series \"$name\": it has [join $order($w) {, }]"
    }
    lmap x $X($w,$name) y $Y($w,$name) { list $x $y }
}

# clear W ?NAME?: forget every series, or one
proc ::tcltorch::chart::clear {w {name ""}} {
    variable order
    variable X
    variable Y
    Check $w
    set names [expr {$name eq "" ? $order($w) : [list $name]}]
    foreach n $names {
        if {![info exists X($w,$n)]} {
            return -code error -errorcode [list TCLTORCH CHART SERIES $n] "chart \"$w\" has no series \"$n\""
        }
        unset X($w,$n) Y($w,$n)
        variable C
        foreach part {done ema count xs raw smooth ext} { unset -nocomplain C($w,$n,$part) }
        set order($w) [lsearch -all -inline -exact -not $order($w) $n]
    }
    Redraw $w
    return
}

# flush W: draw every point now and let Tk show it
proc ::tcltorch::chart::flush {w} {
    Check $w
    Redraw $w
    update idletasks
    return
}

# describe W -> dict: series (name -> point count), xrange, yrange (data shown), redraws, drawms
proc ::tcltorch::chart::describe {w} {
    variable order
    variable X
    variable redraws
    variable cost
    variable range
    Check $w
    set counts {}
    foreach n $order($w) { dict set counts $n [llength $X($w,$n)] }
    set r [expr {[::info exists range($w)] ? $range($w) : {{} {}}}]
    dict create series $counts xrange [lindex $r 0] yrange [lindex $r 1] redraws $redraws($w) \
        drawms $cost($w)
}

# postscript W FILE: the chart as encapsulated PostScript (a picture on a headless box)
proc ::tcltorch::chart::postscript {w file} {
    Check $w
    Redraw $w
    update idletasks
    $w postscript -file $file -colormode color
    return $file
}

proc ::tcltorch::chart::Schedule {w} {
    variable pending
    if {[::info exists pending($w)] && $pending($w) eq ""} {
        set pending($w) [after idle [list ::tcltorch::chart::Redraw $w]]
    }
}

proc ::tcltorch::chart::Forget {w} {
    variable opt
    variable order
    variable X
    variable Y
    variable last
    variable cost
    variable pending
    variable redraws
    variable range
    variable dead
    if {![::info exists order($w)]} return
    if {$pending($w) ne ""} { after cancel $pending($w) }
    foreach n $order($w) { unset -nocomplain X($w,$n) Y($w,$n) }
    array unset opt $w,*
    variable C
    array unset C $w,*
    unset -nocomplain order($w) last($w) cost($w) pending($w) redraws($w) range($w)
    set dead($w) 1
}

# TensorBoard's smoothing: EMA with debiasing; non-finite values and constant series as they are
proc ::tcltorch::chart::Smooth {values weight} {
    if {$weight == 0 || [llength $values] == 0} { return $values }
    set first [lindex $values 0]
    set constant 1
    foreach v $values { if {$v != $first} { set constant 0; break } }
    if {$constant} { return $values }
    set last 0.0
    set n 0
    set out {}
    foreach v $values {
        if {[string is double -strict $v] && $v == $v && abs($v) != Inf} {
            set last [expr {$last * $weight + (1.0 - $weight) * $v}]
            incr n
            lappend out [expr {$last / (1.0 - $weight ** $n)}]
        } else {
            lappend out $v
        }
    }
    return $out
}

# Round ticks covering lo..hi, about `count` of them (1-2-5 steps).
proc ::tcltorch::chart::Ticks {lo hi {count 5}} {
    set span [expr {$hi - $lo}]
    # a span lost in rounding would make a step that does not move t
    if {$span <= 1e-9 * max(abs($lo), abs($hi))} { return [list $lo] }
    set raw [expr {$span / double($count)}]
    set mag [expr {10.0 ** floor(log10($raw))}]
    foreach m {1 2 5 10} {
        set step [expr {$m * $mag}]
        if {$step >= $raw} break
    }
    set ticks {}
    for {set t [expr {ceil($lo / $step) * $step}]} {$t <= $hi + $step * 1e-9 && [llength $ticks] <= 4 * $count} {set t [expr {$t + $step}]} {
        lappend ticks [expr {abs($t) < $step * 1e-9 ? 0.0 : $t}]
    }
    return $ticks
}

proc ::tcltorch::chart::Label {v} {
    if {$v == 0} { return 0 }
    set a [expr {abs($v)}]
    if {$a >= 1e5 || $a < 1e-3} { return [format %.2g $v] }
    if {$v == round($v)} { return [format %.0f $v] }
    return [format %.4g $v]
}

proc ::tcltorch::chart::Lighter {color} {
    scan [string range $color 1 end] %2x%2x%2x r g b
    format #%02x%02x%02x [expr {($r + 3 * 255) / 4}] [expr {($g + 3 * 255) / 4}] [expr {($b + 3 * 255) / 4}]
}

proc ::tcltorch::chart::Redraw {w} {
    variable opt
    variable order
    variable X
    variable Y
    variable last
    variable cost
    variable pending
    variable redraws
    variable range
    variable palette
    if {![::info exists order($w)] || ![winfo exists $w]} return
    if {$pending($w) ne ""} {
        after cancel $pending($w)
        set pending($w) ""
    }
    set t0 [clock microseconds]
    set width [winfo width $w]
    set height [winfo height $w]
    if {$width <= 1} { set width $opt($w,-width) }
    if {$height <= 1} { set height $opt($w,-height) }
    $w delete all
    set log [string is true $opt($w,-logscale)]
    set weight $opt($w,-smoothing)
    # the data (log10 of positive values on a log scale) and its ranges
    set xmin Inf; set xmax -Inf; set ymin Inf; set ymax -Inf
    set shown {}
    variable C
    foreach n $order($w) {
        # only the points that arrived since the last redraw are transformed and smoothed
        set key $w,$n
        if {![::info exists C($key,done)]} {
            array set C [list $key,done 0 $key,ema 0.0 $key,count 0 $key,xs {} $key,raw {} $key,smooth {} \
                $key,ext {Inf -Inf Inf -Inf}]
        }
        set all [llength $X($key)]
        if {$C($key,done) < $all} {
            lassign $C($key,ext) a b c d
            set ema $C($key,ema)
            set count $C($key,count)
            foreach x [lrange $X($key) $C($key,done) end] y [lrange $Y($key) $C($key,done) end] {
                if {$log} {
                    if {!($y > 0) || $y == Inf} continue
                    set y [expr {log10($y)}]
                } elseif {$y != $y || abs($y) == Inf} {
                    continue
                }
                if {$weight > 0} {   ;# TensorBoard's EMA with debiasing
                    set ema [expr {$ema * $weight + (1.0 - $weight) * $y}]
                    incr count
                    set sm [expr {$ema / (1.0 - $weight ** $count)}]
                } else {
                    set sm $y
                }
                lappend C($key,xs) $x
                lappend C($key,raw) $y
                lappend C($key,smooth) $sm
                if {$x < $a} { set a $x }
                if {$x > $b} { set b $x }
                set c [expr {min($c, $y, $sm)}]
                set d [expr {max($d, $y, $sm)}]
            }
            set C($key,ext) [list $a $b $c $d]
            set C($key,ema) $ema
            set C($key,count) $count
            set C($key,done) $all
        }
        lassign $C($key,ext) a b c d
        set xmin [expr {min($xmin, $a)}]; set xmax [expr {max($xmax, $b)}]
        set ymin [expr {min($ymin, $c)}]; set ymax [expr {max($ymax, $d)}]
        lappend shown $n $C($key,xs) $C($key,raw) $C($key,smooth)
    }
    set left 64; set right 12; set top [expr {$opt($w,-title) eq "" ? 14 : 30}]; set bottom 40
    set pw [expr {max(10, $width - $left - $right)}]
    set ph [expr {max(10, $height - $top - $bottom)}]
    set x1 [expr {$left + $pw}]; set y1 [expr {$top + $ph}]
    if {$opt($w,-title) ne ""} {
        $w create text [expr {$left + $pw / 2}] 8 -text $opt($w,-title) -anchor n -font {Helvetica 11 bold} \
            -tags title
    }
    $w create rectangle $left $top $x1 $y1 -outline #999999 -tags frame
    $w create text [expr {$left + $pw / 2}] [expr {$height - 4}] -text $opt($w,-xlabel) -anchor s -tags xlabel
    if {$opt($w,-ylabel) ne ""} {
        $w create text 4 [expr {$top + $ph / 2}] -text $opt($w,-ylabel) -anchor w -tags ylabel
    }
    if {$xmin == Inf} {
        set range($w) {{} {}}
        $w create text [expr {$left + $pw / 2}] [expr {$top + $ph / 2}] -text "waiting for data" \
            -fill #999999 -tags empty
        Finish $w $t0
        return
    }
    set range($w) [list [list $xmin $xmax] \
        [expr {$log ? [list [expr {10.0 ** $ymin}] [expr {10.0 ** $ymax}]] : [list $ymin $ymax]}]]
    if {$xmax == $xmin} { set xmin [expr {$xmin - 0.5}]; set xmax [expr {$xmax + 0.5}] }
    # flat, or flat but for rounding (a smoothed constant differs from it in the last bit)
    if {$ymax - $ymin <= 1e-9 * max(abs($ymin), abs($ymax))} {
        set pad [expr {$ymin == 0 ? 1.0 : abs($ymin) * 0.05}]
        set ymin [expr {$ymin - $pad}]; set ymax [expr {$ymax + $pad}]
    } else {
        set pad [expr {($ymax - $ymin) * 0.04}]
        set ymin [expr {$ymin - $pad}]; set ymax [expr {$ymax + $pad}]
    }
    set sx [expr {$pw / double($xmax - $xmin)}]
    set sy [expr {$ph / double($ymax - $ymin)}]
    # grid and tick labels
    foreach t [Ticks $xmin $xmax 6] {
        set px [expr {$left + ($t - $xmin) * $sx}]
        $w create line $px $top $px $y1 -fill #eeeeee -tags grid
        $w create text $px [expr {$y1 + 4}] -text [Label $t] -anchor n -tags {tick xtick}
    }
    if {$log} {
        set ticks {}
        for {set e [expr {int(ceil($ymin))}]} {$e <= floor($ymax)} {incr e} { lappend ticks $e }
        if {[llength $ticks] < 2} {   ;# less than two decades: 1, 2 and 5 times powers of ten
            set ticks {}
            for {set e [expr {int(floor($ymin))}]} {$e <= ceil($ymax)} {incr e} {
                foreach m {1 2 5} {
                    set t [expr {$e + log10($m)}]
                    if {$t >= $ymin && $t <= $ymax} { lappend ticks $t }
                }
            }
        }
        if {[llength $ticks] < 2} { set ticks [Ticks $ymin $ymax 4] }
    } else {
        set ticks [Ticks $ymin $ymax 5]
    }
    foreach t $ticks {
        set py [expr {$y1 - ($t - $ymin) * $sy}]
        $w create line $left $py $x1 $py -fill #eeeeee -tags grid
        $w create text [expr {$left - 4}] $py -text [Label [expr {$log ? 10.0 ** $t : $t}]] -anchor e \
            -tags {tick ytick}
    }
    $w raise frame
    # the curves: at most about two points per pixel column are drawn
    set i 0
    set ly [expr {$top + 6}]
    foreach {n xs raw smooth} $shown {
        set color [lindex $palette [expr {$i % [llength $palette]}]]
        set stride [expr {max(1, int(ceil([llength $xs] / double($pw))))}]   ;# about a point per pixel column
        set rc {}; set sc {}
        for {set k 0} {$k < [llength $xs]} {incr k $stride} {
            set px [expr {$left + ([lindex $xs $k] - $xmin) * $sx}]
            lappend rc $px [expr {$y1 - ([lindex $raw $k] - $ymin) * $sy}]
            lappend sc $px [expr {$y1 - ([lindex $smooth $k] - $ymin) * $sy}]
        }
        if {[llength $rc] == 2} {   ;# one point: a dot
            lassign $rc px py
            $w create oval [expr {$px - 2}] [expr {$py - 2}] [expr {$px + 2}] [expr {$py + 2}] \
                -fill $color -outline $color -tags [list curve series$i]
        } else {
            if {$weight > 0} {
                $w create line {*}$rc -fill [Lighter $color] -width 1 -tags [list raw series$i]
            }
            $w create line {*}$sc -fill $color -width 2 -tags [list curve series$i]
        }
        # legend: top right, inside the plot
        set lx [expr {$x1 - 8}]
        $w create text $lx $ly -text $n -anchor ne -tags [list legend legend$i]
        set bbox [$w bbox legend$i]
        $w create line [expr {[lindex $bbox 0] - 22}] [expr {$ly + 7}] [expr {[lindex $bbox 0] - 4}] \
            [expr {$ly + 7}] -fill $color -width 3 -tags [list legend legendmark$i]
        incr ly 16
        incr i
    }
    Finish $w $t0
}

proc ::tcltorch::chart::Finish {w t0} {
    variable last
    variable cost
    variable redraws
    set now [clock microseconds]
    set cost($w) [expr {($now - $t0) / 1000.0}]
    set last($w) [expr {$now / 1000}]
    incr redraws($w)
}

package provide tcltorch::chart 0.1.0
