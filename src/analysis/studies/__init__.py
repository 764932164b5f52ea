"""One module per notebook / DVC stage: what the notebooks narrate, computed once."""
