"""The ``## `` sections of benchmarks/results.md that a benchmark owns."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"


def replace_section(title: str, body: str, results: Path = RESULTS) -> None:
    """Put ``## <title>...`` + ``body`` in place of the section whose heading starts with
    ``## <title>`` (appended if there is none); every other section is kept as found."""
    text = results.read_text() if results.exists() else "# Benchmarks\n"
    heading = f"\n## {title}"
    at = text.find(heading)
    head, tail = (text, "") if at < 0 else (text[:at], text[at + 1 :])
    following = tail.find("\n## ")
    tail = "" if following < 0 else tail[following + 1 :]
    head = head.rstrip("\n") + "\n"
    section = body.rstrip("\n") + "\n"
    results.write_text(head + "\n" + section + ("\n" + tail if tail else ""))
