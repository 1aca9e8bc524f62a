#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Makes filter-before-after.png for the README from house.pgm and the
filter example's two outputs: input, blur and edges side by side, each
pixel drawn 3x3. Python's standard library only.
  ./filter house.pgm house-blur.png house-edges.png
  python3 compose.py house.pgm house-blur.png house-edges.png OUT.png"""
import struct
import sys
import zlib


def read_pgm(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    assert magic == b"P5" and maxval == b"255"
    w, h = map(int, size.split())
    return [pixels[r * w:(r + 1) * w] for r in range(h)]


def read_png(path):
    """8-bit grey, filter 0 rows (what examples/image.c writes)."""
    with open(path, "rb") as fh:
        data = fh.read()
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return [raw[r * (w + 1) + 1:(r + 1) * (w + 1)] for r in range(h)]


def chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body +
            struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))


def main():
    images = [read_pgm(sys.argv[1]), read_png(sys.argv[2]),
              read_png(sys.argv[3])]
    scale, gap = 3, 6
    h, w = len(images[0]), len(images[0][0])
    rows = []
    for y in range(h * scale):
        row = bytearray()
        for k, img in enumerate(images):
            src = img[y // scale]
            row += bytes(src[x // scale] for x in range(w * scale))
            if k + 1 < len(images):
                row += b"\xff" * gap
        rows.append(b"\x00" + bytes(row))
    width = len(images) * w * scale + (len(images) - 1) * gap
    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", width, h * scale, 8, 0, 0,
                                      0, 0)) +
           chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) +
           chunk(b"IEND", b""))
    with open(sys.argv[4], "wb") as fh:
        fh.write(png)


if __name__ == "__main__":
    main()
