"""Draws the extension's icons (icons/icon{16,32,48,128}.png) with the standard library only: a violet rounded
square with three white stacked "layers". Run: python3 extension/tools/make_icons.py"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZES = (16, 32, 48, 128)
SUPERSAMPLE = 4
OUT = Path(__file__).resolve().parent.parent / "icons"


def _inside_rounded_square(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _inside_layer(x: float, y: float, centre_y: float) -> bool:
    # A flattened diamond (a layer seen in perspective), centred horizontally.
    return abs(x - 0.5) / 0.32 + abs(y - centre_y) / 0.11 <= 1


def _pixel(x: float, y: float) -> tuple[float, float, float, float]:
    if not _inside_rounded_square(x, y, 0.22):
        return (0.0, 0.0, 0.0, 0.0)
    top, bottom = (124, 92, 255), (79, 48, 214)
    r, g, b = (t + (u - t) * y for t, u in zip(top, bottom, strict=True))
    for centre, shade in ((0.68, 0.72), (0.5, 0.86), (0.32, 1.0)):
        if _inside_layer(x, y, centre):
            return (255 * shade, 255 * shade, 255, 255.0)
    return (r, g, b, 255.0)


def render(size: int) -> bytes:
    rows = []
    n = SUPERSAMPLE
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sy in range(n):
                for sx in range(n):
                    r, g, b, a = _pixel((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            alpha = acc[3] / (n * n)
            colour = [round(c / acc[3]) if acc[3] else 0 for c in acc[:3]]
            row.extend([*colour, round(alpha)])
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for size in SIZES:
        (OUT / f"icon{size}.png").write_bytes(render(size))
        print(f"icons/icon{size}.png")


if __name__ == "__main__":
    main()
