"""The drift verdicts: a live window against a :class:`DriftBaseline`, feature by feature
and for the model's predictions, with Evidently's default test choice and thresholds
(so verdicts cross-check against the ``evidently`` package) and, beyond them, PSI and KS
alongside every numeric verdict, effect sizes, Benjamini-Hochberg adjusted p-values,
minimum-sample guards, null-rate changes, unseen categories, an importance-weighted
share and a persistence rule (D48). Pure: numpy and pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from modelrail.drift import numeric as num
from modelrail.drift import stats
from modelrail.drift.reference import (
    CategoricalReference,
    DriftBaseline,
    FeatureReference,
    Frozen,
    NumericReference,
)
from modelrail.drift.window import CategoricalWindow, NumericWindow
from modelrail.drift_options import DriftOptions

TestName = Literal["ks", "chisquare", "z", "wasserstein", "jensenshannon"]
P_VALUE_TESTS: frozenset[str] = frozenset({"ks", "chisquare", "z"})
UNSEEN_LISTED = 20


class FeatureDrift(Frozen):
    name: str
    kind: str
    status: Literal["ok", "insufficient_data"]
    test: TestName
    score: float | None = Field(description="p-value for ks/chisquare/z, else the distance")
    threshold: float
    drifted: bool
    p_value: float | None = None
    p_value_adjusted: float | None = None
    statistic: float | None = Field(None, description="KS D, chi-square or Z statistic")
    effect_size: float | None = None
    effect_measure: str | None = None
    psi: float | None = None
    ks: float | None = None
    ks_error: float | None = Field(None, description="KS may be this much higher (grid reference)")
    wasserstein_norm: float | None = None
    wasserstein_error: float | None = Field(
        None, description="bound on the normed Wasserstein error"
    )
    n_reference: int
    n_current: int
    null_share_reference: float
    null_share_current: float
    null_rate_changed: bool = False
    non_finite_current: int = 0
    out_of_range_share: float | None = Field(
        None, description="current share outside [ref min, ref max]"
    )
    unseen: dict[str, int] = Field(
        default_factory=dict, description="current categories the reference lacks"
    )
    unseen_share: float | None = None


class DatasetDrift(Frozen):
    drift_share: float
    drifted: bool
    n_reference: int
    n_current: int
    n_features: int
    n_drifted: int
    n_insufficient: int
    weighted_drift_share: float | None = None


class DriftWindow(Frozen):
    features: dict[str, NumericWindow | CategoricalWindow]
    prediction: NumericWindow | CategoricalWindow | None = None


class DriftReport(Frozen):
    dataset: DatasetDrift
    features: list[FeatureDrift]
    prediction: FeatureDrift | None = None
    options: DriftOptions

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def compare(
    baseline: DriftBaseline, window: DriftWindow, *, options: DriftOptions | None = None
) -> DriftReport:
    """Every feature of the baseline against the window (a feature missing from the
    window is an error: a caller that lost a column must say so, not pass quietly)."""
    opts = options or DriftOptions()
    missing = sorted(set(baseline.features) - set(window.features))
    if missing:
        raise ValueError(f"window lacks features of the baseline: {', '.join(missing)}")
    raw = [
        compare_feature(name, ref, window.features[name], opts)
        for name, ref in baseline.features.items()
    ]
    features = _adjust(raw, opts)
    prediction = None
    if baseline.prediction is not None and window.prediction is not None:
        prediction = compare_feature("prediction", baseline.prediction, window.prediction, opts)
    return DriftReport(
        dataset=_dataset(features, baseline, window, opts),
        features=features,
        prediction=prediction,
        options=opts,
    )


def compare_feature(
    name: str, ref: FeatureReference, win: NumericWindow | CategoricalWindow, opts: DriftOptions
) -> FeatureDrift:
    if isinstance(ref, NumericReference) and isinstance(win, NumericWindow):
        return _numeric(name, ref, win, opts)
    if isinstance(ref, CategoricalReference) and isinstance(win, CategoricalWindow):
        return _categorical(name, ref, win, opts)
    raise TypeError(f"feature {name!r}: the window's kind does not match the reference's")


def select_test(
    *, kind: str, reference_rows: int, unique_together: int | None, opts: DriftOptions
) -> TestName:
    """Evidently's default choice. ``unique_together`` counts distinct values of reference
    and current together (None: more than the low-cardinality limit)."""
    few = unique_together is not None and unique_together <= opts.low_cardinality
    if reference_rows <= opts.size_switch:
        if kind == "numeric" and not few:
            return "ks"
        return "z" if (unique_together or 0) <= 2 else "chisquare"
    if kind == "numeric" and not few:
        return "wasserstein"
    return "jensenshannon"


def decide(test: str, score: float, opts: DriftOptions) -> bool:
    """Evidently's comparisons: KS p <= alpha; chi-square and Z p < alpha; distances >=."""
    if test == "ks":
        return score <= opts.p_value
    if test in P_VALUE_TESTS:
        return score < opts.p_value
    return score >= opts.distance


def threshold_of(test: str, opts: DriftOptions) -> float:
    return opts.p_value if test in P_VALUE_TESTS else opts.distance


def _nulls(
    ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int, opts: DriftOptions
) -> dict[str, object]:
    ref_share = ref_missing / ref_rows if ref_rows else 0.0
    cur_share = cur_missing / cur_rows if cur_rows else 0.0
    changed = False
    if ref_rows and cur_rows and abs(cur_share - ref_share) >= max(opts.null_min_change, 1e-12):
        _, p = stats.two_proportion_z(ref_missing, ref_rows, cur_missing, cur_rows)
        changed = p < opts.null_p_value
    return {
        "null_share_reference": ref_share,
        "null_share_current": cur_share,
        "null_rate_changed": changed,
    }


def _numeric(
    name: str, ref: NumericReference, win: NumericWindow, opts: DriftOptions
) -> FeatureDrift:
    counted = num.value_counts(ref, win) if win.n else None
    unique = None
    if counted is not None:
        unique = sum(1 for r, c in zip(counted[1], counted[2], strict=True) if r or c)
    test = select_test(kind="numeric", reference_rows=ref.n, unique_together=unique, opts=opts)
    common = {
        "name": name,
        "kind": "numeric",
        "test": test,
        "threshold": threshold_of(test, opts),
        "n_reference": ref.n,
        "n_current": win.n,
        "non_finite_current": win.non_finite,
        **_nulls(ref.nulls + ref.non_finite, ref.rows, win.nulls + win.non_finite, win.rows, opts),
    }
    if win.n == 0:
        return FeatureDrift(status="insufficient_data", score=None, drifted=False, **common)
    c = num.cdfs(ref, win)
    d, d_err = num.ks_statistic(c)
    w, w_err = num.wasserstein(c, ref.n, win.n)
    norm = max(ref.std, 0.001)
    ref_shares, cur_shares = num.decile_shares(ref, c)
    outside = (win.gap_counts[0] + win.gap_counts[-1]) / win.n
    extra: dict[str, object] = {
        "ks": d,
        "ks_error": d_err,
        "wasserstein_norm": w / norm,
        "wasserstein_error": w_err / norm,
        "psi": stats.psi(ref_shares, cur_shares),
        "out_of_range_share": outside,
        "effect_size": w / norm,
        "effect_measure": "wasserstein/std",
    }
    if test == "ks":
        p = stats.ks_pvalue(d, ref.n, win.n)
        extra.update(score=p, p_value=p, statistic=d)
    elif test == "wasserstein":
        extra.update(score=w / norm)
    else:
        assert counted is not None
        extra.update(_counts_test(test, counted[1], counted[2], [str(k) for k in counted[0]]))
    return _finish(common, extra, opts)


def _categorical(
    name: str, ref: CategoricalReference, win: CategoricalWindow, opts: DriftOptions
) -> FeatureDrift:
    seen = {k: v for k, v in ref.categories.items() if v}
    keys = sorted(set(seen) | set(win.categories))
    test = select_test(
        kind="categorical", reference_rows=ref.n, unique_together=len(keys), opts=opts
    )
    unseen = {k: v for k, v in win.categories.items() if k not in seen}
    top = dict(sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:UNSEEN_LISTED])
    common = {
        "name": name,
        "kind": ref.kind,
        "test": test,
        "threshold": threshold_of(test, opts),
        "n_reference": ref.n,
        "n_current": win.n,
        "unseen": top,
        "unseen_share": sum(unseen.values()) / win.n if win.n else None,
        **_nulls(ref.nulls, ref.rows, win.nulls, win.rows, opts),
    }
    if win.n == 0:
        return FeatureDrift(status="insufficient_data", score=None, drifted=False, **common)
    ref_counts = [float(seen.get(k, 0)) for k in keys]
    cur_counts = [float(win.categories.get(k, 0)) for k in keys]
    extra = _counts_test(test, ref_counts, cur_counts, keys)
    extra["psi"] = stats.psi(_shares(ref_counts), _shares(cur_counts))
    return _finish(common, extra, opts)


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    return [c / total for c in counts]


def _counts_test(
    test: str, ref: Sequence[float], cur: Sequence[float], keys: Sequence[str]
) -> dict[str, object]:
    """Chi-square, Z or Jensen-Shannon on counts over the same keys (sorted)."""
    n_ref, n_cur = sum(ref), sum(cur)
    if test == "chisquare":
        expected = [r * n_cur / n_ref for r in ref]
        chi, p = stats.chi_square(cur, expected)
        v = stats.cramers_v(chi, n_cur, len(keys))
        return {
            "score": p,
            "p_value": p,
            "statistic": chi,
            "effect_size": v,
            "effect_measure": "cramers_v",
        }
    if test == "z":
        # Evidently codes the first key (sorted) 0 and every other 1
        k_ref, k_cur = n_ref - ref[0], n_cur - cur[0]
        z, p = stats.two_proportion_z(k_ref, n_ref, k_cur, n_cur)
        h = stats.cohens_h(k_ref / n_ref, k_cur / n_cur)
        return {
            "score": p,
            "p_value": p,
            "statistic": z,
            "effect_size": h,
            "effect_measure": "cohens_h",
        }
    js = stats.jensen_shannon(_as_array(ref), _as_array(cur))
    return {"score": js, "effect_size": js, "effect_measure": "jensen_shannon"}


def _as_array(values: Sequence[float]) -> stats.FloatArray:
    return np.asarray(values, dtype=np.float64)


def _finish(
    common: Mapping[str, object], extra: Mapping[str, object], opts: DriftOptions
) -> FeatureDrift:
    fields = {**common, **extra}
    score = fields["score"]
    assert isinstance(score, float)
    enough = int(fields["n_current"]) >= opts.min_current  # type: ignore[call-overload]
    status = "ok" if enough else "insufficient_data"
    drifted = enough and decide(str(fields["test"]), score, opts)
    return FeatureDrift(status=status, drifted=drifted, **fields)


def _adjust(features: list[FeatureDrift], opts: DriftOptions) -> list[FeatureDrift]:
    """Benjamini-Hochberg over the features whose verdict a p-value decides."""
    tested = [i for i, f in enumerate(features) if f.status == "ok" and f.p_value is not None]
    adjusted = stats.benjamini_hochberg([features[i].p_value or 0.0 for i in tested])
    out = list(features)
    for i, q in zip(tested, adjusted, strict=True):
        update: dict[str, object] = {"p_value_adjusted": q}
        if opts.correction == "bh":
            update["drifted"] = decide(out[i].test, q, opts)
        out[i] = out[i].model_copy(update=update)
    return out


def _dataset(
    features: list[FeatureDrift], baseline: DriftBaseline, window: DriftWindow, opts: DriftOptions
) -> DatasetDrift:
    judged = [f for f in features if f.status == "ok"]
    drifted = [f for f in judged if f.drifted]
    share = len(drifted) / len(judged) if judged else 0.0
    weighted = None
    if baseline.importances and judged:
        weights = {f.name: max(baseline.importances.get(f.name, 0.0), 0.0) for f in judged}
        total = sum(weights.values())
        weighted = sum(weights[f.name] for f in drifted) / total if total > 0 else None
    return DatasetDrift(
        drift_share=share,
        drifted=bool(judged) and share >= opts.drift_share,
        n_reference=max((r.rows for r in baseline.features.values()), default=0),
        n_current=max((w.rows for w in window.features.values()), default=0),
        n_features=len(features),
        n_drifted=len(drifted),
        n_insufficient=len(features) - len(judged),
        weighted_drift_share=weighted,
    )


def persistent(history: Sequence[bool], m: int, n: int) -> bool:
    """Drift in at least ``m`` of the last ``n`` windows (oldest first); fewer than ``n``
    windows so far never act."""
    if not 1 <= m <= n:
        raise ValueError(f"persistence needs 1 <= m <= n, got m={m}, n={n}")
    recent = list(history)[-n:]
    return len(recent) == n and sum(map(bool, recent)) >= m
