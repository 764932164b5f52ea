"""One function per figure; all share the house style in ``style``."""
