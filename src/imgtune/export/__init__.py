"""Using a trained model outside imgtune: ONNX export (see :mod:`imgtune.export.onnx`)."""

from imgtune.export.onnx import export_onnx, read_metadata

__all__ = ["export_onnx", "read_metadata"]
