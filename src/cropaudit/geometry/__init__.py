"""Pure geometry (no I/O): crop windows, composite layout."""
