"""The commands that use a trained model: ``export`` and ``predict``.

Importing this module registers them. They import the export and prediction modules
(which load JAX, or onnxruntime) inside their functions, so ``imgtune --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from imgtune.cli.registry import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, arguments, command, path_map, print_out

__all__ = ["export_command", "predict_command"]


def _export_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run's folder (its best model), best/, a trial or a "
                                                   "checkpoint folder")
    parser.add_argument("--onnx", action="store_true", help="export to ONNX (the one format for now; required)")
    parser.add_argument("--output", metavar="FILE", help="the file to write (default: DIR/best/model.onnx, or "
                                                         "model.onnx beside the checkpoint)")
    parser.add_argument("--force", action="store_true", help="replace FILE when it exists")
    norm = parser.add_mutually_exclusive_group()
    norm.add_argument("--normalize", dest="normalize", action="store_true", default=None,
                      help="ImageNet normalisation inside the graph: input1 is the 0-1 RGB image "
                           "(default: the job's enable_onnx_normalization)")
    norm.add_argument("--no-normalize", dest="normalize", action="store_false",
                      help="input1 is already normalised")


@command("export", "export a trained model (ONNX, as Azure's model.onnx)")
@arguments(_export_args)
def export_command(args: argparse.Namespace) -> int:
    """Writes the ONNX file and prints a line describing its input and output; exit 2 without ``--onnx``."""
    if not args.onnx:
        print("error: choose a format: --onnx", file=sys.stderr)
        return EXIT_USAGE
    from imgtune.export import export_onnx, read_metadata  # loads JAX and jax2onnx: only when exporting

    path = export_onnx(args.dir, args.output, normalize=args.normalize, overwrite=args.force)
    meta = read_metadata(path)
    inputs = "0-1 RGB (normalised in the graph)" if meta["normalization_in_graph"] else "ImageNet-normalised"
    crop = meta["validation_crop_size"]
    print_out(f"wrote {path}: input1 float32 (batch, 3, {crop}, {crop}) {inputs}; "
              f"output1 logits (batch, {len(meta['labels'])})")
    return EXIT_OK


def _predict_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="a run's folder (its best model), best/, a trial or "
                                                   "checkpoint folder, or an exported .onnx file")
    parser.add_argument("images", metavar="IMAGE", nargs="+",
                        help="image files, folders (searched recursively) or JSONL manifests (image_url per line)")
    parser.add_argument("--top-k", type=int, metavar="K", help="keep the K most probable labels, most probable first")
    parser.add_argument("--onnx", action="store_true",
                        help="run the ONNX export with onnxruntime (best/model.onnx, or a temporary export)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch (default 32)")
    parser.add_argument("--path-map", metavar="PREFIX=DIR", action="append", default=[],
                        help="rewrite manifest image URLs starting with PREFIX to the local folder DIR")


@command("predict", "predict images with a trained model: one JSON line per image")
@arguments(_predict_args)
def predict_command(args: argparse.Namespace) -> int:
    """Prints a JSON line per image; an image that fails gets an ``error`` line (and a line on
    stderr) while the others are predicted; the exit code is then 1."""
    from imgtune.prediction import iter_predictions  # loads JAX (or onnxruntime): only when predicting

    failed = 0
    for result in iter_predictions(args.dir, args.images, top_k=args.top_k, batch_size=args.batch_size,
                                   onnx=args.onnx, path_map=path_map(args.path_map)):
        if "error" in result:
            failed += 1
            print(f"error: {result['filename']}: {result['error']}", file=sys.stderr)
        print_out(json.dumps(result))
    return EXIT_FAILURE if failed else EXIT_OK
