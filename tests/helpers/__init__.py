"""Test helpers: simulated panels and comparison utilities (not part of the library)."""
