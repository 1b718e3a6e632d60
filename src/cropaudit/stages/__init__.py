"""One module per pipeline stage: tables in, tables out (called by commands/)."""
