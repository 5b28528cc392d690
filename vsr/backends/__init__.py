"""Compute backends: one interface (``base.Backend``), several implementations."""
