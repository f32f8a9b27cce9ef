"""The ``weights`` command: the models' ImageNet weights in the Hugging Face cache.

``imgtune weights list`` (name, source, size, cached or not, pinned or recorded hash),
``imgtune weights download NAME... | --all`` (on a connected machine; copy its cache, ``HF_HOME``,
to an offline one) and ``imgtune weights path NAME``. Importing this module registers it; it loads
no JAX (see :mod:`imgtune.train.pretrained`).
"""

from __future__ import annotations

import argparse
import sys

from imgtune.cli.registry import EXIT_OK, EXIT_USAGE, arguments, command, print_out
from imgtune.cli.tables import columns
from imgtune.errors import Problem, ValidationError
from imgtune.spec.models import MODELS, model_spec
from imgtune.train.pretrained import cache_root, cached_path, fetch, record_status

__all__ = ["weights_command", "weights_table"]


def _weights_args(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.add_parser("list", help="each model's weights: source, size, cached or not, pinned or recorded hash")
    download = sub.add_parser("download", help="download weights into the Hugging Face cache (HF_HOME)")
    download.add_argument("names", metavar="NAME", nargs="*", help="model names (Azure's, or timm Hub ids such as timm/resnet50.a1_in1k)")
    download.add_argument("--all", action="store_true", help="every model's weights")
    path = sub.add_parser("path", help="print the cached file of a model's weights")
    path.add_argument("name", metavar="NAME", help="a model name (Azure's, or a timm Hub id)")


def weights_table() -> str:
    """``imgtune weights list``: one row per model, then the cache it looked in."""
    rows = [["model", "hub repository (model.safetensors)", "revision", "size", "licence", "mean/std", "cached",
             "sha256"]]
    for name, spec in MODELS.items():
        w = spec.weights
        size = f"{w.size_mb:g} MB" if w.size_mb else "?"
        norm = "0.5" if w.mean == (0.5, 0.5, 0.5) else "imagenet"
        rows.append([name, w.repo if w.filename == "model.safetensors" else f"{w.repo}/{w.filename}",
                     (w.revision or "main")[:12], size, w.license, norm, "yes" if cached_path(name) else "no", record_status(name)])
    return "\n".join([*columns(rows), f"cache: {cache_root()} (HF_HOME; HF_HUB_OFFLINE=1 never downloads)"])


def _names(values: list[str]) -> list[str]:
    unknown = [n for n in values if model_spec(n) is None or model_spec(n).builder is not None]
    if unknown:
        raise ValidationError([Problem(n, f"unknown model, expected one of {', '.join(MODELS)} or a timm Hub id "
                                          f"(timm/<architecture>[.<tag>][@<revision>]); one's own model has no "
                                          f"weights to fetch (its builder's pretrained hook loads them)")
                               for n in unknown])
    return values


@command("weights", "the models' ImageNet weights: list, download (for offline use), path")
@arguments(_weights_args)
def weights_command(args: argparse.Namespace) -> int:
    """``list`` prints the table; ``download`` fetches and verifies; ``path`` prints a cached file
    (exit 2 when it is not cached)."""
    if args.action == "list":
        print_out(weights_table())
    elif args.action == "download":
        if bool(args.names) == bool(args.all):
            print("error: name the models to download, or --all", file=sys.stderr)
            return EXIT_USAGE
        names = list(MODELS) if args.all else _names(args.names)
        for name, path in fetch(names).items():
            print_out(f"{name}: {path}")
    elif args.action == "path":
        name = _names([args.name])[0]
        path = cached_path(name)
        if path is None:
            raise ValidationError([Problem(name, f"not in the cache ({cache_root()}): imgtune weights download "
                                                 f"{name}")])
        print_out(str(fetch([name], local_files_only=True)[name]))
    else:
        print("error: choose an action: list, download or path", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
