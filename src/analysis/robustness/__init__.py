"""Robustness and inference: placebo, wild bootstrap, PSM-DID, Bacon decomposition, HonestDiD."""
