# Started as two plain tclsh processes (tests/commands/runtime/test_distributed.py) with RANK etc. set.
# Mode "timeout": rank 1 sleeps; rank 0's all_reduce must fail after -timeout seconds.
# Mode "dies": rank 1 exits; rank 0's all_reduce must fail, not hang.
# Mode "ddp": rank 1 exits after wrapping its model; rank 0's backward through torch::ddp fails.
package require tcltorch
set mode [lindex $argv 0]
torch::distributed_init -backend gloo -timeout 4
if {$mode eq "ddp"} {
    set net [torch::ddp [torch::linear 3 2]]
    if {[torch::get_rank] == 1} { exit 0 }
    set loss [torch::tensor_sum [torch::layer_forward $net [torch::ones {2 3}]]]
    set t0 [clock milliseconds]
    set code [catch {torch::tensor_backward $loss} m o]
} elseif {[torch::get_rank] == 1} {
    if {$mode eq "timeout"} { after 12000 }
    exit 0
} else {
    set t0 [clock milliseconds]
    set code [catch {torch::all_reduce [torch::ones 1]} m o]
}
puts "code $code"
puts "errorcode [dict get $o -errorcode]"
puts "message $m"
puts "seconds [expr {([clock milliseconds] - $t0) / 1000.0}]"
flush stdout
exit 0
