"""Model cards: one version's facts from the registry, as Markdown and as HTML.

Everything here is pure except :func:`write_card`. :func:`build_card` gathers what a
reader needs (purpose, data, metrics, slices, lineage, gates, status and alias history)
from a :class:`~modelrail.registry.ModelVersion`, the model's contract and the alias
history; :func:`render_markdown` and :func:`render_html` render the same sections, so
both formats always carry the same facts.

Slice metrics are metrics named ``slice:<column>=<value>:<metric>`` (for example
``slice:store_id=S01:rmse``); they are shown in their own table, not among the metrics.

Every value that comes from the registry is escaped: HTML special characters in the
HTML card, Markdown syntax (and ``<``/``>``) in the Markdown card. The HTML card is
self-contained: an inline stylesheet and a Content-Security-Policy that forbids any
script or external resource.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modelrail.contract import ModelContract
from modelrail.registry.models import (
    AliasChange,
    ChampionComparison,
    DataRef,
    GateResult,
    Lineage,
    ModelVersion,
    StatusChange,
    VersionStatus,
)

SLICE_PREFIX = "slice:"

Tone = Literal["", "pass", "fail", "muted"]


# -- the card -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRow:
    """One overall metric. ``role`` is ``primary``/``secondary`` when the contract names it."""

    name: str
    value: float
    role: Literal["primary", "secondary", ""] = ""
    threshold: float | None = None
    greater_is_better: bool | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class SliceMetric:
    """One ``slice:<column>=<value>:<metric>`` entry, parsed."""

    column: str
    value: str
    metric: str
    score: float


@dataclass(frozen=True)
class ModelCard:
    model: str
    version: int
    status: VersionStatus
    created_at: str
    created_by: str
    generated_at: str
    contract: ModelContract | None
    data: DataRef
    lineage: Lineage
    metrics: tuple[MetricRow, ...]
    #: the contract's primary metric is missing from the recorded metrics
    primary_missing: str | None
    slices: tuple[SliceMetric, ...]
    gates: tuple[GateResult, ...]
    status_history: tuple[StatusChange, ...]
    #: every move of any alias that pointed to or away from this version, oldest first
    alias_history: tuple[AliasChange, ...]
    #: the champion version now (None: no champion is set)
    champion: int | None

    @property
    def is_champion(self) -> bool:
        return self.champion == self.version

    @property
    def gates_passed(self) -> bool:
        return bool(self.gates) and all(g.passed for g in self.gates)

    @property
    def file_stem(self) -> str:
        return f"{self.model}-v{self.version}"


def parse_slice_key(name: str) -> tuple[str, str, str] | None:
    """``slice:<column>=<value>:<metric>`` -> (column, value, metric); None otherwise.

    The metric is what follows the last ``:`` and the column what precedes the first
    ``=``, so a value may itself contain ``:`` or ``=``.
    """
    if not name.startswith(SLICE_PREFIX):
        return None
    rest, sep, metric = name[len(SLICE_PREFIX) :].rpartition(":")
    column, eq, value = rest.partition("=")
    if not sep or not eq or not column or not metric:
        return None
    return column, value, metric


def build_card(
    version: ModelVersion,
    *,
    contract: ModelContract | None,
    alias_history: list[AliasChange],
    champion: int | None,
    generated_at: str,
) -> ModelCard:
    """The card for ``version``.

    ``alias_history`` may hold the history of every alias; only the moves to or away
    from this version are kept. ``contract`` must be this model's contract (or None).
    """
    if contract is not None and contract.name != version.model:
        raise ValueError(f"contract {contract.name!r} does not describe model {version.model!r}")
    overall: dict[str, float] = {}
    slices: list[SliceMetric] = []
    for name, value in version.metrics.items():
        parsed = parse_slice_key(name)
        if parsed is None:
            overall[name] = value
        else:
            slices.append(SliceMetric(*parsed, score=value))
    slices.sort(key=lambda s: (s.column, s.value, s.metric))

    primary = contract.primary_metric if contract is not None else None
    secondary = set(contract.secondary_metrics) if contract is not None else set()
    rows: list[MetricRow] = []
    for name, value in overall.items():
        if primary is not None and name == primary.name:
            rows.append(
                MetricRow(
                    name,
                    value,
                    "primary",
                    primary.threshold,
                    primary.greater_is_better,
                    primary.passes(value),
                )
            )
        else:
            rows.append(MetricRow(name, value, "secondary" if name in secondary else ""))
    order = {"primary": 0, "secondary": 1, "": 2}
    rows.sort(key=lambda r: (order[r.role], r.name))
    primary_missing = primary.name if primary is not None and primary.name not in overall else None

    n = version.version
    involved = [c for c in alias_history if n in (c.from_version, c.to_version)]
    involved.sort(key=lambda c: (c.at, c.alias.value, c.revision))
    return ModelCard(
        model=version.model,
        version=n,
        status=version.status,
        created_at=version.created_at,
        created_by=version.created_by,
        generated_at=generated_at,
        contract=contract,
        data=version.lineage.data,
        lineage=version.lineage,
        metrics=tuple(rows),
        primary_missing=primary_missing,
        slices=tuple(slices),
        gates=tuple(version.gates),
        status_history=tuple(version.status_history),
        alias_history=tuple(involved),
        champion=champion,
    )


# -- the sections, shared by both renderers -------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    tone: Tone = ""


@dataclass(frozen=True)
class _Facts:
    items: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class _Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class _Text:
    text: Cell


_Block = _Facts | _Table | _Text


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: tuple[_Block, ...]


def _num(value: float) -> str:
    return f"{value:.6g}"


def _opt(value: object, missing: str = "not recorded") -> Cell:
    return Cell(missing, "muted") if value is None or value == "" else Cell(str(value))


def _verdict(passed: bool) -> Cell:
    return Cell("pass", "pass") if passed else Cell("fail", "fail")


def _v(version: int | None) -> str:
    return "unset" if version is None else f"v{version}"


def _facts(*items: tuple[str, Cell | str]) -> _Facts:
    return _Facts(tuple((k, v if isinstance(v, Cell) else Cell(v)) for k, v in items))


def _table(headers: tuple[str, ...], rows: list[tuple[Cell | str, ...]]) -> _Table:
    return _Table(
        headers, tuple(tuple(c if isinstance(c, Cell) else Cell(c) for c in r) for r in rows)
    )


def _note(text: str, tone: Tone = "muted") -> _Text:
    return _Text(Cell(text, tone))


def _summary(card: ModelCard) -> _Section:
    if card.champion is None:
        champion = Cell("no (no champion is set)", "muted")
    elif card.is_champion:
        champion = Cell("yes", "pass")
    else:
        champion = Cell(f"no (the champion is v{card.champion})", "muted")
    return _Section(
        "Summary",
        (
            _facts(
                ("Model", card.model),
                ("Version", str(card.version)),
                ("Status", card.status.value),
                ("Champion now", champion),
                ("Created", f"{card.created_at} by {card.created_by}"),
                ("Card generated", card.generated_at),
            ),
        ),
    )


def _purpose(card: ModelCard) -> _Section:
    c = card.contract
    if c is None:
        return _Section(
            "Purpose",
            (
                _note(
                    "No contract was found for this model: its purpose, target and quality "
                    "bar are not known to this card."
                ),
            ),
        )
    direction = ">=" if c.primary_metric.greater_is_better else "<="
    return _Section(
        "Purpose",
        (
            _facts(
                ("Description", _opt(c.description, "no description in the contract")),
                ("Problem type", c.problem_type.value),
                ("Target", c.target),
                (
                    "Quality bar",
                    f"{c.primary_metric.name} {direction} {_num(c.primary_metric.threshold)}",
                ),
                ("Features", ", ".join(f.name for f in c.features)),
            ),
        ),
    )


def _data(card: ModelCard) -> _Section:
    d = card.data
    return _Section(
        "Data",
        (
            _facts(
                ("S3 object", f"s3://{d.bucket}/{d.key}"),
                ("S3 version id", _opt(d.version_id, "none (unversioned)")),
                ("SHA-256", d.sha256),
                ("Rows", f"{d.rows:,}"),
                ("Size", f"{d.size_bytes:,} bytes"),
                ("Baseline profile", _opt(card.lineage.baseline_profile_uri)),
            ),
        ),
    )


def _metrics(card: ModelCard) -> _Section:
    blocks: list[_Block] = []
    if not card.metrics:
        blocks.append(_note("No overall metrics recorded."))
    elif card.contract is None:
        blocks.append(_table(("Metric", "Value"), [(m.name, _num(m.value)) for m in card.metrics]))
        blocks.append(_note("No contract: thresholds unknown."))
    else:
        rows: list[tuple[Cell | str, ...]] = []
        for m in card.metrics:
            if m.threshold is None or m.passed is None:
                rows.append((m.name, _num(m.value), m.role, "", ""))
            else:
                direction = ">=" if m.greater_is_better else "<="
                rows.append(
                    (
                        m.name,
                        _num(m.value),
                        m.role,
                        f"{direction} {_num(m.threshold)}",
                        _verdict(m.passed),
                    )
                )
        blocks.append(_table(("Metric", "Value", "Role", "Threshold", "Result"), rows))
    if card.primary_missing is not None:
        blocks.append(
            _note(f"The primary metric {card.primary_missing!r} was not recorded.", "fail")
        )
    return _Section("Metrics", tuple(blocks))


def _slices(card: ModelCard) -> _Section:
    if not card.slices:
        return _Section("Slices", (_note("No slice metrics recorded."),))
    metrics = sorted({s.metric for s in card.slices})
    primary = card.contract.primary_metric if card.contract is not None else None
    grid: dict[tuple[str, str], dict[str, SliceMetric]] = {}
    for s in card.slices:
        grid.setdefault((s.column, s.value), {})[s.metric] = s
    rows: list[tuple[Cell | str, ...]] = []
    for (column, value), scores in grid.items():
        cells: list[Cell | str] = [column, value if value else Cell("(empty)", "muted")]
        for metric in metrics:
            found = scores.get(metric)
            if found is None:
                cells.append(Cell("-", "muted"))
            elif primary is not None and metric == primary.name:
                ok = primary.passes(found.score)
                verdict: Tone = "pass" if ok else "fail"
                cells.append(Cell(f"{_num(found.score)} ({verdict})", verdict))
            else:
                cells.append(_num(found.score))
        rows.append(tuple(cells))
    blocks: list[_Block] = [_table(("Column", "Value", *metrics), rows)]
    if primary is not None and primary.name in metrics:
        blocks.append(_note(f"Slice {primary.name} is judged against the overall threshold."))
    return _Section("Slices", tuple(blocks))


def _judged_against(lin: Lineage) -> str:
    """The reference the quality gate compared the model with, and why that one."""
    compared = lin.compared_with
    if compared is None:
        return "not recorded"
    version = "nothing" if compared.version is None else f"v{compared.version}"
    return f"{version} ({compared.reason})"


def _lineage(card: ModelCard) -> _Section:
    lin = card.lineage
    champion = lin.champion_at_training
    blocks: list[_Block] = [
        _facts(
            ("Training job", lin.training_job_name),
            ("Training job ARN", _opt(lin.training_job_arn)),
            ("Tuning job ARN", _opt(lin.tuning_job_arn)),
            ("Pipeline execution", _opt(lin.pipeline_execution_arn)),
            ("Training image", lin.training_image),
            ("Code version", lin.code_version),
            ("Git commit", _opt(lin.git_commit)),
            ("Seed", _opt(lin.seed)),
            ("Champion at training", _opt(None if champion is None else f"v{champion}", "none")),
            ("Judged against", _judged_against(lin)),
            ("Model artifact", lin.model_artifact_uri),
        )
    ]
    if lin.hyperparameters:
        hyperparameters = sorted(lin.hyperparameters.items())
        blocks.append(_table(("Hyperparameter", "Value"), [(k, v) for k, v in hyperparameters]))
    else:
        blocks.append(_note("No hyperparameters recorded."))
    return _Section("Lineage", tuple(blocks))


def _gates(card: ModelCard) -> _Section:
    if not card.gates:
        return _Section(
            "Gates",
            (_note("No gate results: this version can never carry an alias.", "fail"),),
        )
    failed = [g.name for g in card.gates if not g.passed]
    summary = (
        _note(f"All {len(card.gates)} gates passed.", "pass")
        if not failed
        else _note(f"Failed: {', '.join(failed)}.", "fail")
    )
    rows: list[tuple[Cell | str, ...]] = [
        (g.name, _verdict(g.passed), "; ".join(g.reasons) if g.reasons else Cell("-", "muted"))
        for g in card.gates
    ]
    blocks: list[_Block] = [summary, _table(("Gate", "Result", "Reasons"), rows)]
    for gate in card.gates:
        if gate.comparison is not None:
            blocks.append(_comparison(gate.comparison))
    return _Section("Gates", tuple(blocks))


def _comparison(c: ChampionComparison) -> _Facts:
    """The champion comparison the quality gate decided on (docs/decisions.md D39)."""
    decision = (
        Cell("significant improvement", "pass")
        if c.significant
        else Cell("no significant improvement", "fail")
    )
    return _facts(
        ("Against the champion", decision),
        ("Metric", c.metric),
        ("Difference (positive is better)", f"{c.point:+.6g}"),
        (f"{c.confidence:.0%} interval", f"[{c.lower:+.6g}, {c.upper:+.6g}]"),
        ("Required: lower bound above", _num(c.margin)),
        ("Paired holdout rows", f"{c.rows:,}"),
        ("Bootstrap resamples", f"{c.resamples:,}"),
    )


def _status_history(card: ModelCard) -> _Section:
    rows: list[tuple[Cell | str, ...]] = [
        (
            Cell("(new)", "muted") if c.from_status is None else c.from_status.value,
            c.to_status.value,
            c.at,
            c.by,
            c.reason,
        )
        for c in card.status_history
    ]
    return _Section("Status history", (_table(("From", "To", "At", "By", "Reason"), rows),))


def _aliases(card: ModelCard) -> _Section:
    if card.is_champion:
        now = _note(f"v{card.version} is the champion now.", "pass")
    elif card.champion is None:
        now = _note("No champion is set.")
    else:
        now = _note(f"v{card.version} is not the champion; the champion is v{card.champion}.")
    if not card.alias_history:
        return _Section("Aliases", (now, _note("This version has never carried an alias.")))
    rows: list[tuple[Cell | str, ...]] = [
        (
            c.alias.value,
            _v(c.from_version),
            _v(c.to_version),
            str(c.revision),
            c.at,
            c.by,
            c.reason,
        )
        for c in card.alias_history
    ]
    return _Section(
        "Aliases",
        (now, _table(("Alias", "From", "To", "Revision", "At", "By", "Reason"), rows)),
    )


def _sections(card: ModelCard) -> list[_Section]:
    return [
        _summary(card),
        _purpose(card),
        _data(card),
        _metrics(card),
        _slices(card),
        _lineage(card),
        _gates(card),
        _status_history(card),
        _aliases(card),
    ]


def _title(card: ModelCard) -> str:
    return f"Model card: {card.model} v{card.version}"


# -- Markdown -------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>|#")


def md_escape(text: str) -> str:
    """Text that renders literally in Markdown: no emphasis, links, raw HTML or table
    breaks, on one line."""
    flat = " ".join(text.splitlines())
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in flat)


def _md_block(block: _Block) -> list[str]:
    if isinstance(block, _Text):
        return [md_escape(block.text.text), ""]
    if isinstance(block, _Facts):
        return [f"- **{md_escape(k)}:** {md_escape(v.text)}" for k, v in block.items] + [""]
    lines = [
        "| " + " | ".join(md_escape(h) for h in block.headers) + " |",
        "|" + "|".join(" --- " for _ in block.headers) + "|",
    ]
    lines += ["| " + " | ".join(md_escape(c.text) for c in row) + " |" for row in block.rows]
    return [*lines, ""]


def render_markdown(card: ModelCard) -> str:
    lines = [f"# {md_escape(_title(card))}", ""]
    for section in _sections(card):
        lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"


# -- HTML -----------------------------------------------------------------------------

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
.pass { color: #1a7f37; font-weight: 600; }
.fail { color: #cf222e; font-weight: 600; }
.muted { color: #656d76; }
footer { margin-top: 2rem; color: #656d76; font-size: .85rem; }
""".strip()

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_cell(cell: Cell, tag: str) -> str:
    attr = f' class="{cell.tone}"' if cell.tone else ""
    return f"<{tag}{attr}>{_e(cell.text)}</{tag}>"


def _html_block(block: _Block) -> str:
    if isinstance(block, _Text):
        return _html_cell(block.text, "p")
    if isinstance(block, _Facts):
        items = "".join(f"<dt>{_e(k)}</dt>{_html_cell(v, 'dd')}" for k, v in block.items)
        return f"<dl>{items}</dl>"
    head = "".join(f"<th>{_e(h)}</th>" for h in block.headers)
    body = "".join(
        "<tr>" + "".join(_html_cell(c, "td") for c in row) + "</tr>" for row in block.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(card: ModelCard) -> str:
    title = _e(_title(card))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
    ]
    for section in _sections(card):
        parts.append(f"<section><h2>{_e(section.title)}</h2>")
        parts += [_html_block(b) for b in section.blocks]
        parts.append("</section>")
    parts += [
        f"<footer>Generated by modelrail at {_e(card.generated_at)} from the model registry."
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# -- files ----------------------------------------------------------------------------


def write_card(card: ModelCard, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<model>-v<version>.md`` and ``.html`` into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / f"{card.file_stem}.md"
    page = out_dir / f"{card.file_stem}.html"
    markdown.write_text(render_markdown(card), encoding="utf-8")
    page.write_text(render_html(card), encoding="utf-8")
    return markdown, page


__all__ = [
    "SLICE_PREFIX",
    "MetricRow",
    "ModelCard",
    "SliceMetric",
    "build_card",
    "md_escape",
    "parse_slice_key",
    "render_html",
    "render_markdown",
    "write_card",
]
