"""Zips extension/ into a file for the Chrome Web Store or for loading elsewhere: everything the extension needs,
nothing of its tests or tools. Usage: python3 extension/tools/build_zip.py dist/memory-layer-extension.zip"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_DIRS = {"tests", "tools", "__pycache__"}
EXCLUDED_SUFFIXES = {".py", ".pyc"}


def files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and not EXCLUDED_DIRS.intersection(path.relative_to(ROOT).parts)
        and path.suffix not in EXCLUDED_SUFFIXES
        and not path.name.startswith(".")
    )


def main(out: str) -> None:
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            archive.write(path, path.relative_to(ROOT).as_posix())
    print(f"{target}: {len(files())} files")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist/memory-layer-extension.zip")
