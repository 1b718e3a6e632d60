"""Sub-commands of the cropaudit CLI: one module per command (see cropaudit.cli)."""
