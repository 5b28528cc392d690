"""Trained weights shipped with vsr (safetensors) and their model cards."""
