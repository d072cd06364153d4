"""The evaluation beyond the headline metrics, written into evaluation.json by train.py.

Slices, calibration, permutation importance, model size and latency, the champion
scored on the challenger's holdout and a paired bootstrap interval of the difference
between the two (docs/decisions.md D39). Runs in the SageMaker scikit-learn container, under
the same rules as modelrail_features.py (standard library, numpy, pandas, scipy,
scikit-learn and joblib only).

Every number written is finite: a metric a slice cannot support is left out, an empty
calibration bin has ``null`` means, and a champion that cannot be scored is reported as
``{"error": ...}`` instead of failing the job.
"""

from __future__ import annotations

import json
import math
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import inference
import joblib
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

import modelrail_features as mf
from modelrail import metrics

MISSING_SLICE = "__missing__"  # the key of rows whose slice value is missing
CALIBRATION_BINS = 10
IMPORTANCE_REPEATS = 3
IMPORTANCE_MAX_ROWS = 2000
LATENCY_SINGLE_RUNS = 50
LATENCY_WARMUP_RUNS = 3
LATENCY_BATCH_MAX_ROWS = 1000
LATENCY_BATCH_RUNS = 3  # the median of these is batch_ms
MAX_ERROR_CHARS = 300
PROBABILITY_METRICS = metrics.PROBABILITY_METRICS
BOOTSTRAP_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95  # modelrail.contract.QualityPolicy.improvement_confidence
# Resamples are drawn in chunks of at most this many (resample, row) cells: 1000
# resamples of a 20000-row holdout stay under 20 MB of weights at a time.
BOOTSTRAP_CHUNK_CELLS = 2_500_000

# The champion channel's files (see modelrail/steps/prepare.py).
CHAMPION_ARCHIVE = "model.tar.gz"
CHAMPION_MODEL = "model.joblib"
CHAMPION_CONTRACT = "contract.json"
CHAMPION_INFO = "champion.json"
NO_CHAMPION = "NONE"


def one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


# ---------------------------------------------------------------------------
# slices


def slice_groups(
    features: pd.DataFrame, contract: dict[str, Any]
) -> dict[str, dict[str, np.ndarray]]:
    """For each contract slice column: value -> boolean row mask over ``features``.

    Values are keyed as the model sees them: categorical text, booleans ``"true"`` and
    ``"false"``, missing values ``"__missing__"``. Slice columns that are not features are
    skipped (the contract validator rejects them; a plain dict may still name one).
    """
    kinds = {c["name"]: c["type"] for c in mf.feature_columns(contract)}
    groups: dict[str, dict[str, np.ndarray]] = {}
    for column in contract.get("slices") or []:
        if column not in kinds or column not in features:
            continue
        values = features[column]
        if kinds[column] == "boolean":
            keys = [
                MISSING_SLICE if pd.isna(v) else ("true" if v else "false") for v in values.tolist()
            ]
        else:
            keys = [MISSING_SLICE if pd.isna(v) else str(v) for v in values.tolist()]
        array = np.asarray(keys, dtype=object)
        groups[column] = {key: array == key for key in sorted(set(keys))}
    return groups


def slice_metrics(
    groups: dict[str, dict[str, np.ndarray]],
    scored: mf.Scored,
    target: pd.Series,
    contract: dict[str, Any],
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{column: {value: {"rows": n, "metrics": {...}}}}``; unsupported metrics left out."""
    names = mf.metric_names(contract)
    y_true = target.to_numpy()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for column, values in groups.items():
        out[column] = {
            value: {
                "rows": int(mask.sum()),
                "metrics": mf.metrics_of(scored.subset(mask), y_true[mask], names, strict=False),
            }
            for value, mask in values.items()
        }
    return out


# ---------------------------------------------------------------------------
# calibration


def calibration(scored: mf.Scored, target: pd.Series, contract: dict[str, Any]) -> dict[str, Any]:
    """Reliability bins and the Brier score of a classifier's probabilities.

    Binary: the positive class's probability (the second of ``classes_``). Multiclass: the
    top-1 confidence against whether the top-1 label is right (one-vs-rest).
    """
    assert scored.probabilities is not None and scored.classes is not None
    y_true = target.to_numpy()
    classes = scored.classes
    report: dict[str, Any] = {}
    if len(classes) == 2:
        probability = scored.probabilities[:, 1]
        outcome = (y_true == classes[1]).astype("float64")
        report["method"] = "positive_class"
        report["positive_class"] = mf.decode_labels([classes[1]], contract)[0]
    else:
        top = scored.probabilities.argmax(axis=1)
        probability = scored.probabilities.max(axis=1)
        outcome = (np.asarray(classes, dtype=object)[top] == y_true).astype("float64")
        report["method"] = "top1_one_vs_rest"
    probability = probability.astype("float64")
    report["brier"] = float(np.mean((probability - outcome) ** 2))
    edges = np.arange(CALIBRATION_BINS + 1) / CALIBRATION_BINS
    # Bin i holds [lo, hi); the last bin also holds 1.0.
    index = np.digitize(probability, edges[1:-1])
    bins = []
    for i in range(CALIBRATION_BINS):
        mask = index == i
        count = int(mask.sum())
        bins.append(
            {
                "lo": float(edges[i]),
                "hi": float(edges[i + 1]),
                "count": count,
                "mean_predicted": float(probability[mask].mean()) if count else None,
                "fraction_positive": float(outcome[mask].mean()) if count else None,
            }
        )
    report["bins"] = bins
    return report


# ---------------------------------------------------------------------------
# permutation importance


def _primary_scorer(contract: dict[str, Any]) -> Any:
    """A scorer for permutation_importance: the primary metric, greater is better."""
    name = contract["primary_metric"]["name"]
    sign = 1.0 if mf.GREATER_IS_BETTER[name] else -1.0

    def scorer(estimator: Any, features: pd.DataFrame, target: Any) -> float:
        probabilities = classes = None
        predictions = None
        if name in PROBABILITY_METRICS:
            probabilities = estimator.predict_proba(features)
            classes = list(estimator.classes_)
        else:
            predictions = mf.predict(estimator, features, contract)
        return sign * mf.compute_metric(name, target, predictions, probabilities, classes)

    return scorer


def feature_importance(
    pipeline: Any,
    features: pd.DataFrame,
    target: pd.Series,
    contract: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """How much the primary metric worsens when one feature's holdout values are shuffled.

    ``mean``/``std`` are over the repeats, in the metric's units, signed so that a
    positive value means the feature helps (whichever direction the metric improves in).
    """
    if len(features) > IMPORTANCE_MAX_ROWS:
        features = features.sample(n=IMPORTANCE_MAX_ROWS, random_state=seed)
        target = target.loc[features.index]
    result = permutation_importance(
        pipeline,
        features,
        np.asarray(target),
        scoring=_primary_scorer(contract),
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    return {
        "method": "permutation",
        "metric": contract["primary_metric"]["name"],
        "repeats": IMPORTANCE_REPEATS,
        "rows": len(features),
        "importances": {
            name: {
                "mean": float(result.importances_mean[i]),
                "std": float(result.importances_std[i]),
            }
            for i, name in enumerate(features.columns)
        },
    }


# ---------------------------------------------------------------------------
# latency


def serving_records(raw: pd.DataFrame, contract: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw rows as a JSON request's instances: contract features only, missing as None."""
    columns = [name for name in mf.feature_names(contract) if name in raw]
    values = raw[columns].astype(object)
    values = values.where(values.notna(), None)
    rows = values.itertuples(index=False, name=None)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 4)


SCHEDSTAT = Path("/proc/self/schedstat")


def _run_queue_wait() -> float:
    """Seconds this process has spent runnable but waiting for a CPU (0 where Linux's
    schedstat is not there). On a training instance it stays near 0; on a shared machine
    (the local cloud, CI) it is the time other processes took, not the model's."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def latency(
    pipeline: Any, contract: dict[str, Any], records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Prediction latency as the endpoint serves it: ``inference.predict_fn`` on records
    (features built from the request, then predict, and predict_proba for classifiers);
    request parsing and response encoding are not included. Time spent waiting for a CPU
    held by another process is not counted (as the local endpoint's ModelLatency)."""
    model = inference.Model(pipeline, contract)

    def run(rows: list[dict[str, Any]]) -> float:
        started, waited = time.perf_counter(), _run_queue_wait()
        answer = inference.predict_fn(inference.Request(records=rows), model)
        # what a dedicated instance would measure: wall time less the wait for a CPU
        seconds = max(0.0, time.perf_counter() - started - (_run_queue_wait() - waited))
        if isinstance(answer, inference.Rejected):  # a rejection would time nothing
            raise ValueError(f"latency rows do not fit the contract: {answer.message}")
        return seconds

    for i in range(LATENCY_WARMUP_RUNS):
        run([records[i % len(records)]])
    single = [run([records[i % len(records)]]) for i in range(LATENCY_SINGLE_RUNS)]
    batch = records[:LATENCY_BATCH_MAX_ROWS]
    batch_seconds = float(np.median([run(batch) for _ in range(LATENCY_BATCH_RUNS)]))
    return {
        "scope": "inference.predict_fn",
        "single_p50": _ms(float(np.percentile(single, 50))),
        "single_p95": _ms(float(np.percentile(single, 95))),
        "single_runs": LATENCY_SINGLE_RUNS,
        "batch_rows": len(batch),
        "batch_ms": _ms(batch_seconds),
        "batch_per_row_ms": _ms(batch_seconds / len(batch)),
    }


# ---------------------------------------------------------------------------
# paired bootstrap of the champion-challenger difference

# A metric as a function of bootstrap weights (modelrail.metrics): row i of ``weights``
# (shape resamples x rows) holds how often each holdout row was drawn in resample i; the
# result is the metric of every resample. Weights of all ones give the metric on the holdout.
WeightedMetric = metrics.WeightedMetric


def weighted_metric(name: str, y_true: np.ndarray, scored: mf.Scored) -> WeightedMetric:
    """The contract metric ``name`` of ``scored`` as a function of bootstrap weights: the
    definition :func:`modelrail_features.compute_metric` evaluates on weights of all ones.
    A resample the metric is undefined on (one class for roc_auc) gives NaN."""
    return metrics.weighted(name, y_true, scored.predictions, scored.probabilities, scored.classes)


def resample_weights(rng: np.random.Generator, rows: int, resamples: int) -> np.ndarray:
    """``resamples`` x ``rows`` counts: how often each row is drawn, ``rows`` draws each."""
    draws = rng.integers(0, rows, size=(resamples, rows))
    flat = (draws + (np.arange(resamples) * rows)[:, None]).ravel()
    counts = np.bincount(flat, minlength=resamples * rows)
    return counts.reshape(resamples, rows).astype("float64")


def paired_bootstrap(
    name: str,
    y_true: Any,
    challenger: mf.Scored,
    champion: mf.Scored,
    *,
    seed: int | list[int],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict[str, Any]:
    """A percentile interval of ``metric(challenger) - metric(champion)`` on the same rows.

    Each resample draws the holdout's rows with replacement and scores both models on
    the same draw (paired), so what the two models share cancels out. The difference is
    oriented so that positive means the challenger is better, whichever way the metric
    improves. Resamples on which the metric is undefined are left out and counted; with
    fewer than half of them usable, no interval is given (``lower``/``upper`` None).
    """
    truth = np.asarray(y_true)
    rows = len(truth)
    sign = 1.0 if mf.GREATER_IS_BETTER[name] else -1.0
    ours = weighted_metric(name, truth, challenger)
    theirs = weighted_metric(name, truth, champion)
    ones = np.ones((1, rows))
    point = float(sign * (ours(ones) - theirs(ones))[0]) if rows else math.nan
    rng = np.random.default_rng(seed)
    chunk = max(1, BOOTSTRAP_CHUNK_CELLS // max(rows, 1))
    differences = []
    for start in range(0, resamples if rows else 0, chunk):
        weights = resample_weights(rng, rows, min(chunk, resamples - start))
        with np.errstate(invalid="ignore", divide="ignore"):
            differences.append(sign * (ours(weights) - theirs(weights)))
    diffs = np.concatenate(differences) if differences else np.empty(0)
    diffs = diffs[np.isfinite(diffs)]
    block: dict[str, Any] = {
        "rows": rows,
        "point": point if math.isfinite(point) else None,
        "lower": None,
        "upper": None,
        "valid_resamples": len(diffs),
    }
    if math.isfinite(point) and 2 * len(diffs) >= resamples:
        tail = (1.0 - confidence) / 2.0
        lower, upper = np.quantile(diffs, [tail, 1.0 - tail])
        block["lower"], block["upper"] = float(lower), float(upper)
    return block


def _slice_seed(seed: int, column: str, value: str) -> list[int]:
    """A stable seed per slice (str hashes change between processes; CRC-32 does not)."""
    return [seed, zlib.crc32(column.encode()), zlib.crc32(value.encode())]


def comparison(
    challenger: mf.Scored,
    champion: mf.Scored,
    target: pd.Series,
    groups: dict[str, dict[str, np.ndarray]],
    contract: dict[str, Any],
) -> dict[str, Any]:
    """The paired bootstrap interval of the primary metric's difference, overall and per
    slice, for evaluation.json (the quality gate decides on it)."""
    name = contract["primary_metric"]["name"]
    seed = int(contract.get("seed", 42))
    confidence = float(
        (contract.get("quality") or {}).get("improvement_confidence", DEFAULT_CONFIDENCE)
    )
    y_true = target.to_numpy()
    options: dict[str, Any] = {"confidence": confidence, "resamples": BOOTSTRAP_RESAMPLES}
    overall = paired_bootstrap(name, y_true, challenger, champion, seed=seed, **options)
    slices: dict[str, dict[str, Any]] = {}
    for column, values in groups.items():
        slices[column] = {}
        for value, mask in values.items():
            slices[column][value] = paired_bootstrap(
                name,
                y_true[mask],
                challenger.subset(mask),
                champion.subset(mask),
                seed=_slice_seed(seed, column, value),
                **options,
            )
    return {
        "method": "paired_bootstrap_percentile",
        "metric": name,
        "difference": "challenger minus champion, positive when the challenger is better",
        "greater_is_better": mf.GREATER_IS_BETTER[name],
        "confidence": confidence,
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": seed,
        **overall,
        "slices": slices,
    }


# ---------------------------------------------------------------------------
# champion


def _champion_info(folder: Path) -> dict[str, Any]:
    """``champion.json`` if present and readable (it is informational only)."""
    try:
        info = json.loads((folder / CHAMPION_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


class ChampionError(Exception):
    """The champion cannot be used; the message says at which step and why."""


def _extract(archive: Path, target: Path) -> None:
    """The top-level model.joblib and contract.json of a SageMaker model.tar.gz.

    Only those two regular files are read, and written under fixed names: nothing in
    the archive chooses a path on this machine.
    """
    wanted = (CHAMPION_MODEL, CHAMPION_CONTRACT)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name[2:] if member.name.startswith("./") else member.name
                if name in wanted and member.isfile():
                    source = tar.extractfile(member)
                    if source is not None:
                        (target / name).write_bytes(source.read())
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise ChampionError(f"cannot read {CHAMPION_ARCHIVE}: {one_line(exc)}") from exc
    if not (target / CHAMPION_MODEL).is_file():
        raise ChampionError(f"{CHAMPION_ARCHIVE} has no top-level {CHAMPION_MODEL}")


def _score_champion(
    folder: Path,
    raw: pd.DataFrame,
    target: pd.Series,
    groups: dict[str, dict[str, np.ndarray]],
    contract: dict[str, Any],
    challenger: mf.Scored | None,
) -> dict[str, Any]:
    try:
        pipeline = joblib.load(folder / CHAMPION_MODEL)
        # The champion reads its rows as its own contract says (its features may
        # differ); it is judged by this contract's metrics on this run's holdout.
        own = folder / CHAMPION_CONTRACT
        champion_contract = mf.load_runtime_contract(own) if own.is_file() else contract
    except Exception as exc:
        raise ChampionError(f"cannot load the champion: {one_line(exc)}") from exc
    if mf.is_classifier(champion_contract) != mf.is_classifier(contract):
        raise ChampionError(
            f"the champion is a {champion_contract['problem_type']} model; "
            f"this contract is {contract['problem_type']}"
        )
    try:
        features = mf.build_features(raw, champion_contract)
        scored = mf.score(pipeline, features, champion_contract)
        scores = {
            "metrics": mf.metrics_of(scored, target, mf.metric_names(contract)),
            "slices": slice_metrics(groups, scored, target, contract),
        }
    except Exception as exc:
        raise ChampionError(f"cannot score the champion on the holdout: {one_line(exc)}") from exc
    if challenger is not None:
        try:
            scores["comparison"] = comparison(challenger, scored, target, groups, contract)
        except Exception as exc:
            raise ChampionError(
                f"cannot compare the champion with the challenger: {one_line(exc)}"
            ) from exc
    return scores


def champion(
    channel: str | None,
    raw: pd.DataFrame,
    target: pd.Series,
    groups: dict[str, dict[str, np.ndarray]],
    contract: dict[str, Any],
    challenger: mf.Scored | None = None,
) -> dict[str, Any] | None:
    """The champion's metrics and slices on the challenger's holdout rows, and with the
    challenger's predictions on those rows, the paired interval of the difference
    (``comparison``, see :func:`comparison`).

    ``None`` when there is no champion (no channel, or only the ``NONE`` marker);
    ``{"error": "..."}`` when there is one but it cannot be loaded or scored.
    """
    if not channel or not Path(channel).is_dir():
        return None
    folder = Path(channel)
    names = {p.name for p in folder.iterdir() if p.is_file()}
    if CHAMPION_ARCHIVE not in names and CHAMPION_MODEL not in names:
        if NO_CHAMPION in names:
            return None
        return {
            "error": _clip(
                f"the champion channel holds neither {CHAMPION_ARCHIVE} nor "
                f"{CHAMPION_MODEL} (found {sorted(names)})"
            )
        }
    info = _champion_info(folder)
    version = info.get("version")
    block: dict[str, Any] = {
        "version": version if isinstance(version, int) and not isinstance(version, bool) else None
    }
    if isinstance(info.get("model"), str):
        block["model"] = info["model"]
    try:
        if CHAMPION_ARCHIVE in names:
            with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
                _extract(folder / CHAMPION_ARCHIVE, Path(scratch))
                scores = _score_champion(Path(scratch), raw, target, groups, contract, challenger)
        else:
            scores = _score_champion(folder, raw, target, groups, contract, challenger)
    except ChampionError as exc:
        return {"error": _clip(str(exc))}
    except Exception as exc:  # whatever else: a bad champion must not fail the job
        return {"error": _clip(f"cannot use the champion: {one_line(exc)}")}
    block["rows"] = len(raw)
    block.update(scores)
    return block
