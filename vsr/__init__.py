"""vsr: video super-resolution (decode → upscale → encode).

Importing this package is cheap: torch, TensorRT and ONNX are imported lazily by the
modules that need them.
"""

__version__ = "0.1.0"
