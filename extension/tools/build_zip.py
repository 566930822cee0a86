"""Packages extension/ for the browsers: everything the extension needs, nothing of its tests, tools or npm files.

    python3 extension/tools/build_zip.py dist/memory-layer-extension.zip              # Chrome (the manifest as is)
    python3 extension/tools/build_zip.py dist/memory-layer-firefox.zip --firefox DIR  # Firefox, also unpacked in DIR

Firefox gets the same code with its manifest adapted: an event-page background (`background.scripts`, as a
module) instead of the service worker Firefox does not run, `browser_specific_settings.gecko` (an add-on id and
the first version with what the content scripts use: CSS :has() in the adapters' selectors), and no
Chrome-only keys."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_DIRS = {"tests", "tools", "__pycache__", "node_modules"}
EXCLUDED_FILES = {"package.json", "package-lock.json", "eslint.config.js"}
EXCLUDED_SUFFIXES = {".py", ".pyc"}
GECKO_ID = "memory-layer@memory-layer.app"
GECKO_MIN_VERSION = "140.0"  # the current ESR; data_collection_permissions, CSS :has(), storage.session
GECKO_ANDROID_MIN_VERSION = "142.0"  # data_collection_permissions on Android


def files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and not EXCLUDED_DIRS.intersection(path.relative_to(ROOT).parts)
        and path.name not in EXCLUDED_FILES
        and path.suffix not in EXCLUDED_SUFFIXES
        and not path.name.startswith(".")
    )


def firefox_manifest(manifest: dict) -> dict:
    out = dict(manifest)
    out["background"] = {"scripts": [manifest["background"]["service_worker"]], "type": "module"}
    out.pop("minimum_chrome_version", None)
    out["browser_specific_settings"] = {
        "gecko": {
            "id": GECKO_ID,
            "strict_min_version": GECKO_MIN_VERSION,
            # What leaves the browser: the prompts and answers the person chose to keep, to their own server.
            "data_collection_permissions": {"required": ["websiteContent"]},
        },
        "gecko_android": {"strict_min_version": GECKO_ANDROID_MIN_VERSION},
    }
    return out


def main(out: str, firefox_dir: str | None = None) -> None:
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((ROOT / "manifest.json").read_text())
    if firefox_dir is not None:
        manifest = firefox_manifest(manifest)
        unpacked = Path(firefox_dir)
        shutil.rmtree(unpacked, ignore_errors=True)
        for path in files():
            dest = unpacked / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        (unpacked / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            name = path.relative_to(ROOT).as_posix()
            if name == "manifest.json":
                archive.writestr(name, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            else:
                archive.write(path, name)
    print(f"{target}: {len(files())} files")


if __name__ == "__main__":
    args = sys.argv[1:]
    firefox = None
    if "--firefox" in args:
        i = args.index("--firefox")
        firefox = args[i + 1]
        del args[i : i + 2]
    main(args[0] if args else "dist/memory-layer-extension.zip", firefox)
