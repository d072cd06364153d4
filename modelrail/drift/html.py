"""A self-contained HTML drift report: a table of verdicts and, per feature, reference
against current shares as inline SVG bars (no script, nothing fetched)."""

from __future__ import annotations

from html import escape

from modelrail.drift import numeric as num
from modelrail.drift.engine import DriftReport, DriftWindow, FeatureDrift
from modelrail.drift.reference import CategoricalReference, DriftBaseline, NumericReference
from modelrail.drift.window import CategoricalWindow, NumericWindow

_BAR_W, _BAR_H, _TOP = 28, 120, 20


def render(report: DriftReport, baseline: DriftBaseline, window: DriftWindow) -> str:
    d = report.dataset
    rows = "".join(_row(f) for f in report.features)
    charts = "".join(_chart(f, baseline, window) for f in report.features)
    verdict = "drift detected" if d.drifted else "no dataset drift"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>modelrail drift report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
        ".drift{background:#fde0dc}.insufficient{background:#eee}figure{display:inline-block;margin:1em}"
        "</style></head><body>"
        f"<h1>Drift report: {escape(verdict)}</h1>"
        f"<p>{d.n_drifted} of {d.n_features - d.n_insufficient} features drifted "
        f"(share {d.drift_share:.3f}, threshold {report.options.drift_share:g}); "
        f"{d.n_reference} reference rows, {d.n_current} current rows.</p>"
        "<table><tr><th>feature</th><th>kind</th><th>test</th><th>score</th><th>threshold</th>"
        f"<th>drifted</th><th>PSI</th><th>KS</th><th>status</th></tr>{rows}</table>"
        "<p>Bars: <span style='color:#4a78b5'>reference</span> against "
        f"<span style='color:#d9822b'>current</span> shares.</p>{charts}</body></html>"
    )


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _row(f: FeatureDrift) -> str:
    css = "drift" if f.drifted else ("insufficient" if f.status != "ok" else "")
    cells = [f.name, f.kind, f.test, _fmt(f.score), _fmt(f.threshold), "yes" if f.drifted else "no"]
    cells += [_fmt(f.psi), _fmt(f.ks), f.status]
    return f"<tr class='{css}'>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _shares(
    baseline: DriftBaseline, window: DriftWindow, name: str
) -> tuple[list[str], list[float], list[float]]:
    ref, win = baseline.features[name], window.features[name]
    if isinstance(ref, NumericReference) and isinstance(win, NumericWindow):
        if not win.n:
            return [], [], []
        r, c = num.decile_shares(ref, num.cdfs(ref, win))
        edges = [ref.edges[i] for i in ref.deciles]
        labels = [f"<{edges[0]:.3g}" if edges else "all"] + [f">={e:.3g}" for e in edges]
        return labels, r.tolist(), c.tolist()
    assert isinstance(ref, CategoricalReference) and isinstance(win, CategoricalWindow)
    keys = sorted(
        set(ref.categories) | set(win.categories), key=lambda k: -ref.categories.get(k, 0)
    )[:_TOP]
    return (
        keys,
        [ref.categories.get(k, 0) / ref.n for k in keys],
        [win.categories.get(k, 0) / max(win.n, 1) for k in keys],
    )


def _chart(f: FeatureDrift, baseline: DriftBaseline, window: DriftWindow) -> str:
    labels, ref, cur = _shares(baseline, window, f.name)
    top = max([*ref, *cur, 1e-12])
    bars = []
    for i, (label, r, c) in enumerate(zip(labels, ref, cur, strict=True)):
        x = i * _BAR_W
        for dx, share, color in ((2, r, "#4a78b5"), (14, c, "#d9822b")):
            h = _BAR_H * share / top
            bars.append(
                f"<rect x='{x + dx}' y='{_BAR_H - h:.1f}' width='11' height='{h:.1f}' fill='{color}'>"
                f"<title>{escape(label)}: {share:.3f}</title></rect>"
            )
        bars.append(
            f"<text x='{x + 14}' y='{_BAR_H + 12}' font-size='8' text-anchor='middle'>"
            f"{escape(label[:7])}</text>"
        )
    width = max(len(labels), 1) * _BAR_W
    return (
        f"<figure><svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{_BAR_H + 16}'>"
        f"{''.join(bars)}</svg><figcaption>{escape(f.name)} ({escape(f.test)})</figcaption></figure>"
    )
