"""Writes the small data-reader fixtures in tests/native/fixtures/data/ with NumPy, gzip and Pillow.

The C++ data test (native/tests/data_test.cpp) reads them back and checks every value against the same
formulas used here, so the readers are tested against files from independent writers:
  pixel(n, c, y, x) = (n * 31 + c * 11 + y * 7 + x * 3) % 256      label(n) = n % 3
Run: python3 scripts/goldens/make_data_fixtures.py   (numpy, Pillow; output is a few KB)
"""
import gzip
import os
import struct

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "native", "fixtures", "data")


def pixels(count, channels, height, width):
    n, c, y, x = np.meshgrid(np.arange(count), np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    return ((n * 31 + c * 11 + y * 7 + x * 3) % 256).astype(np.uint8)


def labels(count):
    return np.arange(count) % 3


def write_idx():
    images = pixels(6, 1, 5, 4)[:, 0]
    header = struct.pack(">BBBBIII", 0, 0, 8, 3, 6, 5, 4)
    # mtime=0 keeps the gzip bytes identical between runs.
    with open(os.path.join(OUT, "idx-images.gz"), "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(header + images.tobytes())
    with open(os.path.join(OUT, "idx-labels.gz"), "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(struct.pack(">BBBBI", 0, 0, 8, 1, 6) + labels(6).astype(np.uint8).tobytes())


def write_numpy():
    nchw = pixels(4, 2, 3, 3)
    np.savez(os.path.join(OUT, "stored.npz"), x=(nchw.astype(np.float32) / 255.0), y=labels(4).astype(np.int64))
    np.savez_compressed(os.path.join(OUT, "deflate.npz"), images=pixels(4, 3, 3, 2).transpose(0, 2, 3, 1).copy(),
                        targets=labels(4).astype(np.int32))
    np.save(os.path.join(OUT, "images-f8.npy"), nchw.astype(np.float64) / 255.0)
    np.save(os.path.join(OUT, "labels-i8.npy"), labels(4).astype(np.int64))
    np.save(os.path.join(OUT, "fortran.npy"), np.asfortranarray(nchw.astype(np.float32)))
    np.save(os.path.join(OUT, "object.npy"), np.array([1, "two", None], dtype=object), allow_pickle=True)
    np.save(os.path.join(OUT, "big-endian.npy"), nchw.astype(">f4"))


def write_folder():
    # Two classes, RGB PNGs and one gray PNG (converted to RGB on reading), plus a JPEG.
    for n in range(4):
        folder = os.path.join(OUT, "folder", "cats" if n % 2 == 0 else "dogs")
        os.makedirs(folder, exist_ok=True)
        rgb = pixels(n + 1, 3, 6, 5)[n].transpose(1, 2, 0)
        Image.fromarray(rgb, "RGB").save(os.path.join(folder, f"{n}.png"))
    gray = pixels(1, 1, 6, 5)[0, 0]
    Image.fromarray(gray, "L").save(os.path.join(OUT, "folder", "dogs", "gray.png"))
    flat = np.full((6, 5, 3), (200, 100, 50), dtype=np.uint8)
    Image.fromarray(flat, "RGB").save(os.path.join(OUT, "folder", "cats", "flat.jpg"), quality=95)
    # A folder whose images differ in size.
    for name, size in (("small", (4, 4)), ("large", (8, 6))):
        folder = os.path.join(OUT, "mixed", name)
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(np.zeros((size[1], size[0], 3), dtype=np.uint8), "RGB").save(os.path.join(folder, "0.png"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_idx()
    write_numpy()
    write_folder()
    print("wrote", OUT)
