"""Engine code for neural-network pieces that torch.nn does not provide as classes."""
