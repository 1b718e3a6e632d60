"""Pure geometry (no I/O): crop windows, composite layout, the network's input size and grid."""
