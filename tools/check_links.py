"""Check every relative link and anchor in README.md and docs/, without the network.

Usage:
    .venv/bin/python tools/check_links.py            # README.md and docs/**/*.md of this repository
    .venv/bin/python tools/check_links.py --root DIR [FILE ...]

A link is broken when its file (or folder) does not exist under the root, or when its
``#anchor`` names no heading and no ``<a id>``/``<a name>`` of the Markdown file it points
to.  Anchors are the slugs GitHub gives headings: lower case, punctuation dropped, spaces to
hyphens, letters of any script kept (Russian headings work), ``-1``, ``-2`` … for repeats.
Links with a scheme (``https:``, ``mailto:`` …) are not followed: CI stays offline.

Prints one ``file:line: target: reason`` per broken link and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class BrokenLink:
    source: Path
    line: int
    target: str
    reason: str


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    kept = []
    for char in heading.strip().lower():
        category = unicodedata.category(char)
        if char in " -_" or category[0] in "LN" or category == "Mn":
            kept.append("-" if char == " " else char)
    return "".join(kept)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _inline_text(token: Token) -> str:
    return "".join(child.content for child in token.children or [] if child.type in ("text", "code_inline"))


@cache
def anchors_of(path: Path) -> frozenset[str]:
    """Every anchor a Markdown file offers: its headings' slugs and its explicit HTML anchors."""
    text = path.read_text(encoding="utf-8")
    tokens = _parser().parse(text)
    seen: dict[str, int] = {}
    anchors = set(HTML_ANCHOR.findall(text))
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        slug = slugify(_inline_text(tokens[index + 1]))
        repeat = seen.get(slug, 0)
        seen[slug] = repeat + 1
        anchors.add(slug if repeat == 0 else f"{slug}-{repeat}")
    return frozenset(anchors)


def links_of(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link and image in a Markdown file, code spans and blocks excluded."""
    found = []
    for block in _parser().parse(path.read_text(encoding="utf-8")):
        if block.type != "inline":
            continue
        line = (block.map[0] + 1) if block.map else 1
        for child in block.children or []:
            if child.type == "link_open":
                found.append((line, str(child.attrs.get("href", ""))))
            elif child.type == "image":
                found.append((line, str(child.attrs.get("src", ""))))
    return found


def check_link(source: Path, target: str, root: Path) -> str | None:
    """Why the link is broken, or None."""
    if not target or SCHEME.match(target):
        return None
    path_part, _, anchor = target.partition("#")
    destination = source if not path_part else (source.parent / unquote(path_part)).resolve()
    if not destination.is_relative_to(root):
        return "points outside the repository"
    if not destination.exists():
        return "no such file"
    if anchor and destination.suffix == ".md" and unquote(anchor).lower() not in anchors_of(destination):
        return f"no heading or anchor #{anchor} in {destination.relative_to(root)}"
    return None


def broken_links(files: list[Path], root: Path) -> list[BrokenLink]:
    broken = []
    for source in files:
        for line, target in links_of(source):
            reason = check_link(source.resolve(), target, root)
            if reason:
                broken.append(BrokenLink(source, line, target, reason))
    return broken


def default_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    files = [path.resolve() for path in args.files] or [path for path in default_files(root) if path.exists()]
    broken = broken_links(files, root)
    for link in broken:
        print(f"{link.source.relative_to(root)}:{link.line}: {link.target}: {link.reason}")
    print(f"links: {len(files)} files checked, {len(broken)} broken", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
