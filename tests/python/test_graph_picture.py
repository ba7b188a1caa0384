"""`opflow graph --format html` in a real browser: headless Chromium (Debian's
package, /usr/bin/chromium, installed by scripts/test.sh unless
OPFLOW_SKIP_BROWSER=1 skips this test) opens the example's
page, takes a screenshot and dumps the DOM. The screenshot must not be blank,
and every operation of the flow must be named in the DOM."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import OPFLOW, ROOT

if os.environ.get("OPFLOW_SKIP_BROWSER") == "1":
    pytest.skip(
        "OPFLOW_SKIP_BROWSER=1: headless Chromium not installed or run, on request "
        "(CI always runs this test)",
        allow_module_level=True,
    )

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLE = ROOT / "examples" / "scraping" / "operations.toml"
FLOW = "scraping"


def _opflow(*args: str) -> str:
    result = subprocess.run(
        [str(OPFLOW), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        timeout=180,
        check=False,
    )


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of 8-bit RGB/RGBA pixels of a PNG, decoded with
    the standard library (non-interlaced images only, as Chromium writes)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR"
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            upper_left = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                if pa <= pb and pa <= pc:
                    predictor = left
                elif pb <= pc:
                    predictor = up
                else:
                    predictor = upper_left
                line[i] = (line[i] + predictor) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        rows.append(bytes(line))
        previous = line
    return (
        width,
        height,
        [b"".join(row[x : x + 3] for x in range(0, stride, bpp)) for row in rows],
    )


def test_the_example_page_renders_in_chromium(tmp_path: Path) -> None:
    assert CHROMIUM.exists(), (
        "headless Chromium is needed: apt-get install -y chromium "
        "(scripts/test.sh installs it)"
    )
    page = tmp_path / "scraping.html"
    page.write_text(
        _opflow("graph", str(EXAMPLE), "--format", "html", "--flow", FLOW),
        encoding="utf-8",
    )
    plan = json.loads(_opflow("plan", str(EXAMPLE), "--format", "json"))
    (flow,) = [f for f in plan["flows"] if f["name"] == FLOW]
    names = [op["name"] for op in flow["operations"]]
    assert len(names) == 3, names

    screenshot = tmp_path / "page.png"
    shot = _chromium(
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1200,800",
        page.as_uri(),
    )
    assert screenshot.exists(), shot.stderr.decode(errors="replace")
    width, height, rows = _pixels(screenshot.read_bytes())
    assert (width, height) == (1200, 800)
    background = rows[0][:3]
    colors: set[bytes] = set()
    drawn = 0
    for row in rows:
        for x in range(0, len(row), 3):
            pixel = row[x : x + 3]
            colors.add(pixel)
            drawn += pixel != background
    # Text, boxes, edges and cluster fills: many colours, a good part of the page.
    assert len(colors) > 50, f"{len(colors)} colours: the page looks blank"
    assert drawn > width * height // 50, (
        f"only {drawn} pixels differ from the background"
    )

    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", page.as_uri())
    text = dom.stdout.decode("utf-8")
    assert "<svg" in text and "</table>" in text, dom.stderr.decode(errors="replace")
    for name in names:
        assert name in text, f"{name} is not in the DOM"
    assert text.count("<tr>") == len(names) + 1
