"""The decoded image store: each image of a sweep decoded once, into one uint8 array its trials share.

A sweep's trials read the same images every epoch; decoding them (JPEG, PNG) is most of the host's
work per image. :func:`build_image_store` decodes every image once, before the trials start, into
a ``.npy`` file of shape ``[N, H, W, 3]`` uint8 -- image ``i`` in the top-left ``h_i x w_i`` of
row ``i`` (its *canvas*), zeros elsewhere -- plus a JSON index (paths, sizes, the content key).
The trials open it with :func:`open_image_store`, memory-mapped read-only: the operating system's
page cache holds one copy for all of them, and a row is a view, not a decode. The two files'
names belong to the run folder's owner (:class:`imgtune.runner.store.RunLayout`); this module
takes them as arguments.

**Resolution.** An image whose shorter side is over ``short_side`` is resized (Pillow
``BILINEAR``, antialiased) so that its shorter side is ``short_side`` and its longer side
``int(short_side * long / short)`` -- the evaluation resize's arithmetic; smaller images are kept
as they are. ``short_side`` is the largest of the plan's training crops and validation resizes, so
the evaluation resize only ever shrinks (or keeps) a stored image, and the random resized crop
picks its box from the stored image with the original's aspect ratio: the *relative* scale and
ratio of every crop are drawn exactly as from the original, in pixels rounded to the stored grid.
What differs from decoding the file each time: a small crop (scale near 0.08) is enlarged from
fewer source pixels, so it is softer than one cut from a large original, and the validation image
is resized twice (to the store, then to ``validation_resize_size``) instead of once.

**Budget.** The store is built only when its file (``N * H * W * 3`` bytes; ``H, W`` the largest
stored height and width) fits the budget: ``IMGTUNE_IMAGE_STORE_BYTES`` when set (``0`` turns the
store off), else :data:`DEFAULT_BUDGET_BYTES` capped at half the machine's memory (the page cache
should hold it), and only when the disk has room for it. Beyond the budget the trials stream, as
without a store, and the log says so.

**Atomic, reusable.** The array is written under a temporary name and renamed, then the index is
written (atomically); the index is what says "complete". A crash leaves no index, or the previous
one removed first, so a half store never looks complete. A rerun finds the index, compares its
*content key* -- the format version, ``short_side``, and each image's path, byte size and
modification time -- and reuses the store when the key matches, else rebuilds it.

Example:
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> paths = []
    >>> for i, size in enumerate([(40, 30), (20, 20)]):
    ...     Image.new("RGB", size, (10 * i, 0, 0)).save(d / f"{i}.png")
    ...     paths.append(str(d / f"{i}.png"))
    >>> store = build_image_store(d / "images.npy", d / "images.json", paths, short_side=24, log=print)
    image store: decoded 2 images once into images.npy (24x32 canvases, 0.0 MiB)
    >>> store.images.shape, store.size(paths[0]), store.size(paths[1])
    ((2, 24, 32, 3), (24, 32), (20, 20))
    >>> store.image(paths[1]).shape, int(store.image(paths[1])[0, 0, 0])
    ((20, 20, 3), 10)
    >>> open_image_store(d / "images.npy", d / "images.json", paths, short_side=24) is not None
    True
    >>> open_image_store(d / "images.npy", d / "images.json", paths, short_side=32) is None  # another key
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from imgtune.atomic import write_atomic
from imgtune.errors import Problem, ValidationError
from imgtune.train.data.decode import load_image

__all__ = ["BUDGET_ENV", "DEFAULT_BUDGET_BYTES", "STORE_VERSION", "ImageStore", "build_image_store",
           "image_store_budget", "open_image_store", "store_key", "stored_size"]

STORE_VERSION = 1
DEFAULT_BUDGET_BYTES = 8 * 2**30
"""The default budget, 8 GiB, capped at half the machine's memory."""
BUDGET_ENV = "IMGTUNE_IMAGE_STORE_BYTES"
"""The environment variable that sets the budget in bytes (``0``: no store)."""
_DISK_MARGIN = 2**30  # leave a GiB free on the disk


class ImageStore:
    """An opened store (read-only): ``images`` ``[N, H, W, 3]`` uint8, ``sizes`` ``[N, 2]`` (h, w).

    Attributes:
        images: The canvases (a read-only memory map).
        sizes: int32 ``[N, 2]``: each image's height and width.
        short_side: The shorter side images were reduced to.
        key: The content key it was built for.
    """

    def __init__(self, images: np.ndarray, sizes: np.ndarray, paths: Sequence[str], short_side: int,
                 key: str) -> None:
        self.images, self.sizes, self.short_side, self.key = images, sizes, short_side, key
        self._rows = {p: i for i, p in enumerate(paths)}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, path: object) -> bool:
        return path in self._rows

    def row(self, path: str) -> int:
        """The row holding ``path``'s image."""
        return self._rows[path]

    def size(self, path: str) -> tuple[int, int]:
        """``(height, width)`` of ``path``'s stored image."""
        h, w = self.sizes[self._rows[path]]
        return int(h), int(w)

    def image(self, path: str) -> np.ndarray:
        """``path``'s stored image, uint8 ``[h, w, 3]`` (a view of the map)."""
        i = self._rows[path]
        h, w = self.sizes[i]
        return self.images[i, :h, :w]

    def canvas(self, path: str) -> np.ndarray:
        """``path``'s whole row, uint8 ``[H, W, 3]`` (a view of the map)."""
        return self.images[self._rows[path]]


def image_store_budget(environ: dict[str, str] | None = None) -> int:
    """The budget in bytes (see the module doc).

    Raises:
        ValidationError: ``IMGTUNE_IMAGE_STORE_BYTES`` is not a whole number.

    >>> image_store_budget({"IMGTUNE_IMAGE_STORE_BYTES": "1000"}), image_store_budget({BUDGET_ENV: "0"})
    (1000, 0)
    >>> 0 < image_store_budget({}) <= DEFAULT_BUDGET_BYTES
    True
    """
    env = os.environ if environ is None else environ
    value = env.get(BUDGET_ENV)
    if value is not None and value.strip():
        try:
            return max(0, int(value))
        except ValueError:
            raise ValidationError([Problem(BUDGET_ENV, f"must be a number of bytes, got {value!r}")]) from None
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_BUDGET_BYTES
    return min(DEFAULT_BUDGET_BYTES, memory // 2)


def store_key(paths: Iterable[str], short_side: int) -> str:
    """The content key: format version, ``short_side``, each file's path, byte size and mtime."""
    h = hashlib.sha256(f"imgtune-image-store {STORE_VERSION} {int(short_side)}\n".encode())
    for p in paths:
        try:
            st = os.stat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


def open_image_store(data_file: str | os.PathLike[str], index_file: str | os.PathLike[str],
                     paths: Sequence[str] | None = None, *, short_side: int | None = None) -> ImageStore | None:
    """The complete store at these files, or ``None`` (none, incomplete, or another content key).

    Args:
        data_file: The ``.npy`` array.
        index_file: Its JSON index.
        paths: When given with ``short_side``: the store must hold exactly these images, unchanged
            since it was built, at that ``short_side`` (the content key is recomputed).
        short_side: See ``paths``.
    """
    try:
        index = json.loads(Path(index_file).read_text(encoding="utf-8"))
        if index.get("version") != STORE_VERSION:
            return None
        if paths is not None and short_side is not None and index["key"] != store_key(paths, short_side):
            return None
        images = np.load(data_file, mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    sizes = np.asarray(index["sizes"], np.int32).reshape(-1, 2)
    if images.dtype != np.uint8 or list(images.shape) != index["shape"] or len(sizes) != images.shape[0]:
        return None
    return ImageStore(images, sizes, index["paths"], int(index["short_side"]), index["key"])


def stored_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """``(width, height)`` an image is stored at (see the module doc).

    >>> stored_size(400, 300, 256), stored_size(300, 400, 256), stored_size(100, 80, 256)
    ((341, 256), (256, 341), (100, 80))
    """
    short, long = min(width, height), max(width, height)
    if short <= short_side:
        return width, height
    new_long = int(short_side * long / short)
    return (short_side, new_long) if width <= height else (new_long, short_side)


def build_image_store(data_file: str | os.PathLike[str], index_file: str | os.PathLike[str],
                      paths: Sequence[str], *, short_side: int, budget_bytes: int | None = None,
                      workers: int = 0, log: Callable[[str], None] | None = None) -> ImageStore | None:
    """Decodes ``paths`` into the store at these files, or reuses the complete one there.

    Args:
        data_file: The ``.npy`` array (written under a temporary name, then renamed).
        index_file: Its JSON index (written last).
        paths: The image files, each once.
        short_side: Shorter sides over this are reduced to it (the plan's largest crop or resize).
        budget_bytes: The most bytes the array may take (default: :func:`image_store_budget`).
        workers: Decoding threads (0: this thread).
        log: Called with one line when the store is built, reused, or not made (and why); default: silent.

    Returns:
        The opened store, or ``None`` when it does not fit the budget or the disk, or an image
        cannot be read (the trials then decode as without a store and report bad images themselves).
    """
    data_file, index_file = Path(data_file), Path(index_file)
    log = log or (lambda line: None)
    paths = list(dict.fromkeys(paths))
    budget = image_store_budget() if budget_bytes is None else int(budget_bytes)
    if budget <= 0 or not paths:
        if budget <= 0:
            log(f"image store: off ({BUDGET_ENV}=0); the trials decode every image every epoch, as they go")
        return None
    found = open_image_store(data_file, index_file, paths, short_side=short_side)
    if found is not None:
        log(f"image store: reusing {data_file.name} ({len(found)} images, {found.images.nbytes / 2**20:.1f} MiB)")
        return found
    key = store_key(paths, short_side)
    index_file.unlink(missing_ok=True)  # another store's, or an incomplete one: from here on, none looks complete
    data_file.unlink(missing_ok=True)
    try:
        sizes = _map(lambda p: _stored_size(p, short_side), paths, workers)
    except Exception as e:  # noqa: BLE001 - any unreadable image: the trials report it
        log(f"image store: not made, an image cannot be read ({_one_line(e)}); the trials decode as they go")
        return None
    height, width = max(h for h, _ in sizes), max(w for _, w in sizes)
    nbytes = len(paths) * height * width * 3
    data_file.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(data_file.parent).free
    if nbytes > budget or nbytes + _DISK_MARGIN > free:
        why = (f"over the budget of {budget / 2**20:.0f} MiB (set {BUDGET_ENV} to change it)" if nbytes > budget
               else f"more than the disk's {free / 2**20:.0f} MiB free allow")
        log(f"image store: not made, {len(paths)} images at {height}x{width} need {nbytes / 2**20:.0f} MiB, {why}; "
            f"the trials decode every image every epoch, as they go")
        return None
    tmp = data_file.with_name(f".{data_file.name}.{os.getpid()}.tmp")
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), height, width, 3))

        def fill(i: int) -> None:
            h, w = sizes[i]
            im = load_image(paths[i])
            if (im.height, im.width) != (h, w):
                im = im.resize((w, h), Image.Resampling.BILINEAR)
            array[i, :h, :w] = np.asarray(im, np.uint8)

        _map(fill, range(len(paths)), workers)
        array.flush()
        array = None  # unmapped
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, data_file)
    except Exception as e:  # noqa: BLE001 - a bad image: the trials decode, and report it
        tmp.unlink(missing_ok=True)
        log(f"image store: not made, an image cannot be decoded ({_one_line(e)}); the trials decode as they go")
        return None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    index = {"version": STORE_VERSION, "key": key, "short_side": int(short_side),
             "shape": [len(paths), height, width, 3], "paths": paths, "sizes": [list(s) for s in sizes]}
    write_atomic(index_file, json.dumps(index))
    log(f"image store: decoded {len(paths)} images once into {data_file.name} "
        f"({height}x{width} canvases, {nbytes / 2**20:.1f} MiB)")
    return open_image_store(data_file, index_file)


def _stored_size(path: str, short_side: int) -> tuple[int, int]:
    """``(h, w)`` the image at ``path`` is stored at, from its header (EXIF orientation applied)."""
    with Image.open(path) as im:
        width, height = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
            width, height = height, width
    w, h = stored_size(width, height, short_side)
    return h, w


def _map(fn: Callable, items: Iterable, workers: int) -> list:
    if workers > 0:
        with ThreadPoolExecutor(workers, thread_name_prefix="imgtune-store") as pool:
            return list(pool.map(fn, items))
    return [fn(x) for x in items]


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:300]
