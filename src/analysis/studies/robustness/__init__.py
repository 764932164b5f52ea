"""The robustness checklist of the headline estimate."""
