"""General econometrics: estimators that take column names, never files (docs/architecture.md)."""
