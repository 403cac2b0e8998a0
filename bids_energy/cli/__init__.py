"""Command line: the parser (built by one function) and the run of each analysis level."""
