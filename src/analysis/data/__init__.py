"""Data management: reference facts, city master, treatments, panels (synthetic or a user's), the design check."""
