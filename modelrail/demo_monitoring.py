"""`make demo`'s monitoring part: live traffic is checked, drift retrains, guards hold."""

from __future__ import annotations

from pathlib import Path

from modelrail.cli import main as cli_main
from modelrail.local.cloud import LocalCloud
from modelrail.local.traffic import replay
from modelrail.monitoring.client import CheckRun
from modelrail.registry import AliasName, DynamoDBRegistry
from modelrail.sample import sample_command

MODEL = "demand"
ROWS = 300


def _say_check(run: CheckRun) -> None:
    check, retrain = run.check, run.retrain
    if check is None:
        print(f"  check {run.status}: {run.error}: {run.cause}")
        return
    print(f"  check of v{check.champion}: {check.status.upper()}: {check.reason}")
    if check.drifted:
        print(f"    drifted: {', '.join(check.drifted)}")
    if check.live is not None:
        print(f"    live {check.live.name} {check.live.value:.3g} on {check.live.labelled_rows} "
              f"labelled rows (threshold {check.live.threshold:g})")  # fmt: skip
    if retrain is not None:
        guard = f" [{retrain.guard}]" if retrain.guard else ""
        print(f"    retraining: {retrain.action}{guard}: {retrain.reason}")


def _traffic(cloud: LocalCloud, path: Path, *, labels: bool) -> None:
    sent = replay(cloud, MODEL, path)
    print(f"  {len(sent.row_ids)} rows served from {path.name} (each request with an InferenceId)")
    if labels:
        truth = path.with_name(f"{path.stem}-labels.csv")
        truth.write_bytes(sent.labels_csv())
        print(
            f"  later, the true units sold arrive: $ modelrail labels upload {MODEL} {truth.name}"
        )
        cli_main(["labels", "upload", MODEL, str(truth)])


def monitoring_demo(cloud: LocalCloud, registry: DynamoDBRegistry, workdir: Path) -> bool:
    """Unshifted traffic passes; shifted traffic drifts, persistently, and retrains once."""
    before = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert before is not None
    print("\n▶ monitoring: each model's schedule starts the monitoring state machine "
          "(here started at once, as `modelrail drift check demand` does)")  # fmt: skip
    good = sample_command(MODEL, ROWS, 21, workdir / "live-good.csv")
    _traffic(cloud, good, labels=False)
    _say_check(cloud.check_now(MODEL, requested_by="demo"))

    print("\n▶ the world shifts: higher prices, warmer weather, another product mix "
          "(`modelrail sample --variant drifted`)")  # fmt: skip
    started = None
    for seed in (22, 23):
        shifted = sample_command(MODEL, ROWS, seed, workdir / f"live-shifted-{seed}.csv",
                                 variant="drifted")  # fmt: skip
        _traffic(cloud, shifted, labels=True)
        run = cloud.check_now(MODEL, requested_by="demo")
        _say_check(run)
        if run.retrain is not None and run.retrain.action == "start":
            started = run.retrain
    if started is None or started.execution_arn is None:
        print("  no retraining started")
        return False
    print(f"\n▶ the retraining {started.execution_name}: the same pipeline, on "
          f"{started.dataset_uri}", flush=True)  # fmt: skip
    print("\n▶ another check meanwhile: the guard holds")
    _say_check(cloud.check_now(MODEL, requested_by="demo"))
    retrained = cloud.wait(started.execution_arn, timeout=600)
    print(f"\n  the retraining: {retrained.status}, v{retrained.registered_version} registered")
    if retrained.registered_version is None:
        return False
    compared = registry.get_version(MODEL, retrained.registered_version).lineage.compared_with
    if compared is not None:
        print(f"  judged against v{compared.version} on the window's newest rows: "
              f"{compared.reason}")  # fmt: skip
    deployed = cloud.deployment_of(retrained, timeout=600)
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    version = registry.get_version(MODEL, champion.version)
    print(f"  deployment: {deployed.outcome if deployed else '-'}; champion v{before.version} "
          f"→ v{champion.version}")  # fmt: skip
    if version.lineage.retrain is not None:
        cause = version.lineage.retrain
        print(f"  v{version.version}'s lineage: retrained for {cause.trigger} ({cause.reason}), "
              f"check {cause.check} of v{cause.champion}")  # fmt: skip
    print("\n▶ a day passes on the local clock: each model's schedule starts its check")
    cloud.clock.fast_forward(86400 + 60, within=5)
    scheduled = cloud.scheduled_check(MODEL)
    if scheduled is None:
        print("  the schedule started no check")
        return False
    _say_check(scheduled)
    print(f"\n  $ modelrail drift history {MODEL}")
    cli_main(["drift", "history", MODEL, "--limit", "12"])
    return champion.version == retrained.registered_version
