# Helpers of the suites that write files (io, reliability_state, checkpoint_state, interop):
#   path NAME  -> NAME in the suite's scratch directory $::tmp
#   mlp        -> a 4-3-2 ReLU MLP (torch::sequential)
proc path {name} { file join $::tmp $name }

proc mlp {} {
    torch::sequential [torch::linear 4 3] [torch::relu] [torch::linear 3 2]
}
