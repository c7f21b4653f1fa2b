"""The vendored UI libraries are exactly the pinned npm files: each committed file has
the sha256 that ``scripts/vendor-ui`` recorded from the pinned tarball, nothing else
sits in the folder, and each library keeps its licence beside it. (``scripts/vendor-ui
--check`` compares with the registry itself; these checks need no network.)"""

from __future__ import annotations

import hashlib
import re
import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENDOR = REPO / "threadkit" / "web" / "vendor"
PINS = runpy.run_path(str(REPO / "scripts" / "vendor-ui"))["PINS"]


def recorded() -> dict[str, str]:
    sums: dict[str, str] = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        sums[path] = digest
    return sums


def test_every_vendored_file_has_its_recorded_sha256() -> None:
    for path, digest in recorded().items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path


def test_the_folder_holds_the_pinned_files_and_nothing_else() -> None:
    pinned = {target for _, _, members in PINS.values() for target in members.values()}
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()} - {
        "SHA256SUMS"
    }
    assert present == pinned == set(recorded())


def test_each_library_keeps_its_licence_and_is_the_pinned_version() -> None:
    for name, (version, _, members) in PINS.items():
        folder = VENDOR / name
        assert (folder / "LICENSE").is_file(), name
        code = next(t for t in members.values() if t.endswith((".js", ".mjs")))
        banner = (VENDOR / code).read_text()[:400]
        assert re.search(rf"\b{re.escape(name)} v?{re.escape(version)}\b", banner, re.I), (
            f"{code} does not announce {name} {version}"
        )
