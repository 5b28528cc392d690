"""Media input and output with PyAV (no torch here)."""
