"""Neural-network layer families (one module per kind), each a table of torch.nn classes."""
