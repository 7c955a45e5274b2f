"""Images generated for the serving tests: small valid ones and a decompression bomb."""

import io
import random
import struct
import zlib

from PIL import Image


def image_bytes(fmt="PNG", size=(64, 48), color=(200, 120, 40)):
    """A small solid-colour image encoded in ``fmt``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def png_bomb(width=30000, height=30000):
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (the pixel data is a few bytes)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def noise_image_bytes(fmt="PNG", size=(300, 300), seed=0):
    """An image of random pixels: it does not compress, so its size in bytes is predictable (about 3 per pixel)."""
    generator = random.Random(seed)
    pixels = bytes(generator.getrandbits(8) for _ in range(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, format=fmt)
    return buffer.getvalue()
