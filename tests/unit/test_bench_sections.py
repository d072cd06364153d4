"""benchmarks/sections.py: a benchmark replaces its own section of results.md only."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sections import replace_section

RESULTS = "# Benchmarks\n\n| a | b |\n\n## Large datasets (x, 1)\n\nold large\n\n## Whole loop (y, 1)\n\nold loop\n"


def test_a_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "results.md"
    path.write_text(RESULTS)
    replace_section("Large datasets", "## Large datasets (x, 2)\n\nnew large", path)
    assert path.read_text() == RESULTS.replace("(x, 1)\n\nold large", "(x, 2)\n\nnew large")
    replace_section("Whole loop", "## Whole loop (y, 2)\n\nnew loop\n", path)
    assert path.read_text().endswith("new large\n\n## Whole loop (y, 2)\n\nnew loop\n")
    assert path.read_text().startswith("# Benchmarks\n\n| a | b |\n\n## Large datasets (x, 2)")


def test_a_missing_section_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "results.md"
    path.write_text("# Benchmarks\n\n| a | b |\n")
    replace_section("Whole loop", "## Whole loop (z)\n\nrows", path)
    assert path.read_text() == "# Benchmarks\n\n| a | b |\n\n## Whole loop (z)\n\nrows\n"
