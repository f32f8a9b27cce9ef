"""Using a trained model outside imgtune: ONNX export (see :mod:`imgtune.export.onnx`).

A sweep whose best trial sets ``enable_onnx_normalization`` exports it when it ends, by running
:mod:`imgtune.export.at_end` in a process of its own.
"""

from imgtune.export.onnx import export_onnx, read_metadata

__all__ = ["export_onnx", "read_metadata"]
