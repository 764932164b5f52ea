"""Exports of Chinese prefecture-level cities: pilot zones, rail links and network coverage."""
