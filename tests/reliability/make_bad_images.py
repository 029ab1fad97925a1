"""Writes a corpus of unusual, broken and hostile images for featscope's reliability tests.

/usr/bin/python3 make_bad_images.py --out DIR

Unusual but valid images (grayscale, RGBA, 16-bit, 1x1, palette) must be converted and used;
broken or hostile ones (corrupt JPEG/PNG, a header claiming 50,000 x 50,000 pixels, not an image)
must give a clear error naming the file, never a signal or a memory blow-up.
"""
import argparse
import io
import os
import struct
import zlib

import numpy as np
from PIL import Image

VALID = ["gray.png", "gray.jpg", "rgba.png", "gray16.png", "one_pixel.png", "palette.png", "cmyk.jpg", "wide.png"]
BROKEN = ["corrupt.jpg", "corrupt.png", "truncated.jpg", "huge_header.png", "huge_header.jpg", "not_an_image.png",
          "zero_bytes.jpg", "thin.png"]


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width, height):
    """A valid PNG header and a few bytes of pixel data: decoders that trust IHDR allocate 10 GB."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def huge_jpeg(width, height):
    """A small JPEG whose SOF0 frame header is rewritten to claim width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 30, 200)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))
    path = lambda name: os.path.join(out, name)

    rgb.convert("L").save(path("gray.png"))
    rgb.convert("L").save(path("gray.jpg"), quality=90)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (64, 48), dtype=np.uint8)))
    rgba.save(path("rgba.png"))
    Image.fromarray(rng.integers(0, 65536, (40, 40), dtype=np.uint16)).save(path("gray16.png"))
    Image.new("RGB", (1, 1), (255, 0, 0)).save(path("one_pixel.png"))
    rgb.convert("P").save(path("palette.png"))
    rgb.convert("CMYK").save(path("cmyk.jpg"))
    Image.new("RGB", (3000, 8), (10, 200, 30)).save(path("wide.png"))

    jpeg = io.BytesIO()
    rgb.save(jpeg, "JPEG", quality=90)
    jpeg = bytearray(jpeg.getvalue())
    sos = jpeg.find(b"\xff\xda")
    corrupt_jpeg = jpeg[:sos] + bytes(rng.integers(0, 256, 64, dtype=np.uint8))  # garbage in place of the scan
    with open(path("corrupt.jpg"), "wb") as f:
        f.write(bytes(corrupt_jpeg))
    with open(path("truncated.jpg"), "wb") as f:
        f.write(bytes(jpeg[: sos // 2]))
    png = io.BytesIO()
    rgb.save(png, "PNG")
    png = bytearray(png.getvalue())
    png[40:200] = bytes(rng.integers(0, 256, 160, dtype=np.uint8))  # inside IDAT: checksum and inflate fail
    with open(path("corrupt.png"), "wb") as f:
        f.write(bytes(png))
    with open(path("huge_header.png"), "wb") as f:
        f.write(huge_png(50000, 50000))
    with open(path("huge_header.jpg"), "wb") as f:
        f.write(huge_jpeg(50000, 50000))
    with open(path("not_an_image.png"), "wb") as f:
        f.write(b"this is a text file with an image extension\n" * 10)
    open(path("zero_bytes.jpg"), "wb").close()
    # 1 x 20,000: within the per-side limit, but resizing its short side to 256 makes 256 x 5,120,000.
    Image.new("L", (1, 20000), 128).save(path("thin.png"))


if __name__ == "__main__":
    main()
