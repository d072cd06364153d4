"""The evaluation beyond the headline metrics, written into evaluation.json by train.py.

Slices, calibration, permutation importance, model size and latency, and the champion
scored on the challenger's holdout. Runs in the SageMaker scikit-learn container, under
the same rules as modelrail_features.py (standard library, numpy, pandas, scipy,
scikit-learn and joblib only).

Every number written is finite: a metric a slice cannot support is left out, an empty
calibration bin has ``null`` means, and a champion that cannot be scored is reported as
``{"error": ...}`` instead of failing the job.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import inference
import joblib
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

import modelrail_features as mf

MISSING_SLICE = "__missing__"  # the key of rows whose slice value is missing
CALIBRATION_BINS = 10
IMPORTANCE_REPEATS = 3
IMPORTANCE_MAX_ROWS = 2000
LATENCY_SINGLE_RUNS = 50
LATENCY_WARMUP_RUNS = 3
LATENCY_BATCH_MAX_ROWS = 1000
LATENCY_BATCH_RUNS = 3  # the median of these is batch_ms
MAX_ERROR_CHARS = 300
PROBABILITY_METRICS = ("roc_auc", "log_loss")

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


def latency(
    pipeline: Any, contract: dict[str, Any], records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Prediction latency as the endpoint serves it: ``inference.predict_fn`` on records
    (features built from the request, then predict, and predict_proba for classifiers);
    request parsing and response encoding are not included."""
    model = inference.Model(pipeline, contract)

    def run(rows: list[dict[str, Any]]) -> float:
        started = time.perf_counter()
        answer = inference.predict_fn(inference.Request(records=rows), model)
        seconds = time.perf_counter() - started
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
        return {
            "metrics": mf.metrics_of(scored, target, mf.metric_names(contract)),
            "slices": slice_metrics(groups, scored, target, contract),
        }
    except Exception as exc:
        raise ChampionError(f"cannot score the champion on the holdout: {one_line(exc)}") from exc


def champion(
    channel: str | None,
    raw: pd.DataFrame,
    target: pd.Series,
    groups: dict[str, dict[str, np.ndarray]],
    contract: dict[str, Any],
) -> dict[str, Any] | None:
    """The champion's metrics and slices on the challenger's holdout rows.

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
                scores = _score_champion(Path(scratch), raw, target, groups, contract)
        else:
            scores = _score_champion(folder, raw, target, groups, contract)
    except ChampionError as exc:
        return {"error": _clip(str(exc))}
    except Exception as exc:  # whatever else: a bad champion must not fail the job
        return {"error": _clip(f"cannot use the champion: {one_line(exc)}")}
    block["rows"] = len(raw)
    block.update(scores)
    return block
