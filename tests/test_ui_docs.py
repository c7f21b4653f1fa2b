"""docs/ui.md's pictures and links: each image it shows is in docs/ as a small PNG with
alt text, and each page it links to exists."""

from __future__ import annotations

import re
import struct
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
UI = DOCS / "ui.md"
#: what the screenshots may weigh and measure (scripts/ui-screenshots crops to the page)
MAX_BYTES = 150 * 1024
MAX_WIDTH = 1000

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s#]+\.md)(?:#[^)]*)?\)")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_screenshot_is_there_small_and_described() -> None:
    images = IMAGE.findall(UI.read_text())
    names = {src for _, src in images}
    assert {"ui-light.png", "ui-dark.png", "ui-widgets-light.png", "ui-widgets-dark.png"} <= names
    assert "ui-phone.png" in names
    assert {
        "console-list-light.png",
        "console-thread-light.png",
        "console-thread-dark.png",
    } <= names
    for alt, src in images:
        path = DOCS / src
        assert path.is_file(), src
        assert len(alt.split()) >= 4, f"{src}: alt text {alt!r} says too little"
        assert path.stat().st_size <= MAX_BYTES, src
        width, _ = png_size(path)
        assert width <= MAX_WIDTH, f"{src} is {width} px wide"
    assert png_size(DOCS / "ui-phone.png")[0] == 375


def test_the_pages_ui_md_links_to_exist() -> None:
    links = LINK.findall(UI.read_text())
    assert "chat-component.md" in links
    for link in links:
        assert (DOCS / link).resolve().is_file(), link
