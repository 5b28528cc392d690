"""Picture quality: metrics, MATLAB-compatible resize, evaluation, training."""
