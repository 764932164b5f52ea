"""Estimators: each returns a result object with ``tidy()``, ``summary()`` and, where natural, ``plot()``."""
