# Run by torchrun on two ranks (tests/commands/runtime/test_distributed.py): ranks that disagree on a tensor's
# shape, dtype or size; every case must end as a Tcl error on the ranks involved (gloo would
# abort the process), and the group must stay usable afterwards. Prints "rank NAME CODE".
package require tcltorch
torch::distributed_init -backend gloo -timeout 30
set r [torch::get_rank]
proc out {name value} { puts "$::r $name $value"; flush stdout }
proc try {name script} {
    set code [catch {uplevel 1 $script} m o]
    out $name [list $code [expr {$code ? [dict get $o -errorcode] : ""}] $m]
}
try all_reduce_shape { torch::all_reduce [torch::ones [list [expr {$r + 2}]]] }
try all_reduce_dtype { torch::all_reduce [torch::ones {2} -dtype [expr {$r ? "float64" : "float32"}]] }
try all_reduce_op { torch::all_reduce [torch::ones {2}] -op [expr {$r ? "max" : "sum"}] }
try gather_shape { torch::distributed_gather [torch::ones [list 2 [expr {$r + 1}]]] -dst 0 }
try broadcast_shape { torch::broadcast [torch::ones [list [expr {$r + 1}]]] 0 }
if {$r == 0} {
    try send_larger { torch::distributed_send [torch::ones {3}] 1 }
    try send_dtype { torch::distributed_send [torch::ones {3}] 1 1 }
    try isend_smaller { torch::distributed_wait [torch::distributed_isend [torch::ones {5}] 1 2] }
} else {
    try send_larger { torch::distributed_recv {4} 0 }
    try send_dtype { torch::distributed_recv {3} 0 1 -dtype int64 }
    try isend_smaller { torch::distributed_wait [torch::distributed_irecv {3} 0 2] }
}
torch::manual_seed 0
try ddp_models { torch::ddp [torch::linear 4 [expr {3 + $r}]] }
out after [torch::tensor_to_list [torch::all_reduce [torch::ones {2}]]]
torch::distributed_destroy
