#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Draws examples/house.pgm, the picture the filter example reads: a small
grey-scale scene (sky gradient, sun, house with a window and door, a tree,
ground with a path) made of plain shapes, so the project owns it outright.
Run once by hand; the PGM is committed. Needs NumPy only."""
import os

import numpy as np

H, W = 96, 128
yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
img = 200.0 - 60.0 * yy / H                            # sky, darker higher up
img[(yy - 18) ** 2 + (xx - 104) ** 2 < 11 ** 2] = 250  # sun
img[yy >= 70] = 90 + 10 * np.sin(xx / 5.0)[yy >= 70]   # ground
path = (yy >= 70) & (np.abs(xx - 40 - (yy - 70) * 0.8) < 3 + (yy - 70) * 0.3)
img[path] = 170
img[(yy >= 40) & (yy < 72) & (xx >= 20) & (xx < 62)] = 140       # wall
roof = (yy >= 22) & (yy < 40) & (np.abs(xx - 41) < (yy - 22) * 1.3 + 2)
img[roof] = 60
img[(yy >= 47) & (yy < 58) & (xx >= 26) & (xx < 38)] = 230      # window
img[(yy >= 52) & (yy < 53) & (xx >= 26) & (xx < 38)] = 60
img[(yy >= 47) & (yy < 58) & (xx >= 31) & (xx < 32)] = 60
img[(yy >= 52) & (yy < 72) & (xx >= 45) & (xx < 54)] = 70       # door
img[(yy >= 50) & (yy < 72) & (xx >= 82) & (xx < 87)] = 80       # trunk
img[(yy - 44) ** 2 / 1.3 + (xx - 84) ** 2 < 13 ** 2] = 110      # crown
img = np.clip(np.round(img), 0, 255).astype(np.uint8)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "house.pgm")
with open(out, "wb") as fh:
    fh.write(b"P5\n%d %d\n255\n" % (W, H))
    fh.write(img.tobytes())
print("wrote", out)
