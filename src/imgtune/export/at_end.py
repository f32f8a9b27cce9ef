"""The end-of-run ONNX export, in a process of its own: ``python -m imgtune.export.at_end OUTPUT_DIR FILE``.

When a sweep's best trial sets ``enable_onnx_normalization``, :func:`imgtune.run` exports the best
model (``OUTPUT_DIR/best/``) to ``FILE`` (``best/model.onnx``) when the sweep ends, by running this
module (see :class:`imgtune.launch.OnnxExportAtEnd`), so the sweep's own process never imports JAX.
It calls :func:`imgtune.export.export_onnx` (an existing ``FILE`` is replaced) and prints what it
wrote; on a failure it prints one line per problem on stderr and exits non-zero (2: a problem with
the run's folder, 1: any other failure). The sweep writes both to ``run.log``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from imgtune.errors import ValidationError
from imgtune.export.onnx import export_onnx, read_metadata

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m imgtune.export.at_end OUTPUT_DIR FILE``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m imgtune.export.at_end OUTPUT_DIR FILE", file=sys.stderr)
        return 2
    source, dest = args
    try:
        path = export_onnx(source, dest, overwrite=True)
        meta = read_metadata(path)
    except ValidationError as err:
        for line in err.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, IsADirectoryError, PermissionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - one line in run.log, as the export command gave it
        print(f"imgtune: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    inputs = "0-1 RGB (normalised in the graph)" if meta["normalization_in_graph"] else "ImageNet-normalised"
    crop = meta["validation_crop_size"]
    print(f"wrote {path}: input1 float32 (batch, 3, {crop}, {crop}) {inputs}; "
          f"output1 logits (batch, {len(meta['labels'])})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
