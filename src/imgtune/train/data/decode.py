"""Decoding image files with Pillow, and checking them all before training.

:func:`load_image` returns an RGB ``PIL.Image``: EXIF orientation applied
(``ImageOps.exif_transpose``), and grey, grey+alpha, palette, RGBA and CMYK
images converted with ``Image.convert("RGB")`` (alpha is dropped, as
torchvision's ``ImageFolder`` loader does). Every failure -- a missing file,
an unreadable or truncated one, an image over Pillow's decompression-bomb
limit (``Image.MAX_IMAGE_PIXELS``; the ``DecompressionBombWarning`` range
counts as an error too) -- becomes a :class:`~imgtune.errors.ValidationError`
whose problem path is the example's ``where``.

:func:`validate_images` runs that check over all examples in parallel threads
(Pillow releases the GIL while decoding) and reports every bad file at once.

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Image.new("L", (4, 3), 7).save(d / "g.png")
    >>> im = load_image(d / "g.png")
    >>> im.mode, im.size
    ('RGB', (4, 3))
    >>> validate_images([Example(str(d / "nope.png"), "x", "training_data.image_url[line 1]")])
    Traceback (most recent call last):
    ...
    imgtune.errors.ValidationError: 1 problem in image files:
      training_data.image_url[line 1]: .../nope.png: file not found
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

from PIL import Image, ImageOps

from imgtune.errors import Problem, ValidationError
from imgtune.train.data.read import Example

__all__ = ["load_image", "validate_images"]

# warnings.catch_warnings() swaps process-wide state; the lock keeps two of our
# threads from interleaving it. It is held only while Pillow parses the header.
_OPEN_LOCK = threading.Lock()


def load_image(path: str | os.PathLike[str] | BinaryIO, where: str = "") -> Image.Image:
    """Decodes an image file to an upright RGB ``PIL.Image``.

    Args:
        path: The image file (or a binary file object, such as ``io.BytesIO`` of its bytes).
        where: Problem path for errors (default: the file path).

    Raises:
        ValidationError: When the file is missing, not an image, truncated,
            corrupt, or over the decompression-bomb limit.
    """
    try:
        with _open(path) as im:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            return im if im.mode == "RGB" else im.convert("RGB")
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for bad data
        raise ValidationError([Problem(where or _name(path), _describe(path, e))]) from None


def validate_images(examples: Sequence[Example], workers: int = 0) -> None:
    """Opens and fully decodes every image; raises one error listing all bad files.

    Each file is opened (decompression-bomb check), ``verify()``-ed (catches
    bad PNG checksums), reopened and decoded (catches truncation; JPEGs are
    decoded at reduced scale with ``draft``, which still reads every byte).

    Args:
        examples: The examples to check.
        workers: Threads to use; 0 checks in this thread.

    Raises:
        ValidationError: Titled ``image files``, one problem per bad file, in
            the order of ``examples``.
    """
    if workers > 0 and len(examples) > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="imgtune-validate") as pool:
            results = list(pool.map(_check, examples))
    else:
        results = [_check(ex) for ex in examples]
    problems = [p for p in results if p is not None]
    if problems:
        raise ValidationError(problems, title="image files")


def _check(ex: Example) -> Problem | None:
    try:
        with _open(ex.path) as im:
            im.verify()
        with _open(ex.path) as im:
            if im.format == "JPEG":
                im.draft("RGB", (64, 64))
            im.load()
    except Exception as e:  # noqa: BLE001
        return Problem(ex.where or ex.path, _describe(ex.path, e))
    return None


def _open(path: str | os.PathLike[str] | BinaryIO) -> Image.Image:
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _BombError(_one_line(e)) from None


class _BombError(Exception):
    """An image over Pillow's decompression-bomb limit."""


def _name(path: str | os.PathLike[str] | BinaryIO) -> str:
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else "<image bytes>"


def _describe(path: str | os.PathLike[str] | BinaryIO, e: BaseException) -> str:
    p = _name(path)
    if isinstance(e, _BombError):
        return (f"{p}: too many pixels for Pillow's decompression-bomb limit ({e}); "
                "raise PIL.Image.MAX_IMAGE_PIXELS if the image is trusted")
    if isinstance(e, FileNotFoundError):
        return f"{p}: file not found"
    if isinstance(e, IsADirectoryError):
        return f"{p}: is a folder, not an image"
    if isinstance(e, PermissionError):
        return f"{p}: permission denied"
    if isinstance(e, Image.UnidentifiedImageError):
        return f"{p}: not an image Pillow can read"
    return f"{p}: corrupt or truncated image ({_one_line(e)})"


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
