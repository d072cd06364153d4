"""A model that decays without drift, on the local cloud (issue 13's acceptance): v1
serves inputs like its training data, but the late labels say demand tripled. No drift,
the live rmse crosses the threshold on 400 labelled rows, and a performance retraining
runs through the pipeline's gates (which refuse it: see the test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelrail.deploy.client import wait_for
from modelrail.local.cloud import LocalCloud, PipelineRun
from modelrail.local.traffic import replay
from modelrail.monitoring.client import CheckRun, upload_labels
from modelrail.registry import ModelVersion, VersionStatus
from modelrail.sample import sample_command
from tests.e2e.monitoring_helpers import MODEL, check, set_schedules
from tests.e2e.registry_waits import registry_of

pytestmark = pytest.mark.e2e


@dataclass
class Decay:
    check: CheckRun
    retraining: PipelineRun | None
    retrained: ModelVersion | None


@pytest.fixture(scope="module")
def decay(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Decay]:
    work = tmp_path_factory.mktemp("decay-data")
    v1 = sample_command(MODEL, 2000, 1, work / "v1.csv")
    live = sample_command(MODEL, 400, 31, work / "live.csv")
    with LocalCloud(assembly=assembly, work_dir=tmp_path_factory.mktemp("decay")) as cloud:
        set_schedules(cloud, "DISABLED")
        sfn = cloud.client("stepfunctions")
        first = cloud.upload_and_wait(MODEL, v1)
        wait_for(cloud.deployment_arn_for(first.execution_arn), sfn=sfn, timeout=300)
        sent = replay(cloud, MODEL, live)
        # Demand tripled (a competitor closed): the labels that arrive late say so.
        tripled = [str(round(float(v) * 3)) for v in sent.labels]
        labels = work / "late-labels.csv"
        labels.write_bytes(type(sent)(sent.row_ids, tripled).labels_csv())
        upload_labels(MODEL, labels, bucket=cloud.data_bucket, s3=cloud.client("s3"))
        run = check(cloud)
        retraining = retrained = None
        if run.retrain is not None and run.retrain.execution_arn:
            retraining = cloud.wait(run.retrain.execution_arn, timeout=600)
            retrained = registry_of(cloud).latest_version(MODEL)
        yield Decay(run, retraining, retrained)


def test_late_labels_make_the_live_metric_fall_and_retrain_for_performance(decay: Decay) -> None:
    result, decided = decay.check.check, decay.check.retrain
    assert result is not None and result.status == "ok", decay.check.to_json()  # no input drift
    assert result.live is not None and result.live.failing, result.live
    assert result.live.labelled_rows == 400 and result.labelled_rows == 400
    assert decided is not None and decided.action == "start", decided
    assert decided.trigger == "performance" and "live rmse" in decided.reason
    # through the same pipeline and its gates, the trigger in the version's lineage
    version = decay.retrained
    assert version is not None and version.version == 2, version
    assert version.lineage.retrain is not None
    assert version.lineage.retrain.trigger == "performance"
    # The sliding window (v1's 2000 rows of the old world, then 400 of the new) cannot
    # reach the contract's bar on the new world: the gate refuses it and nothing deploys.
    # A team whose world changed sets include_champion_data: false.
    assert version.status is VersionStatus.REJECTED, version.status
    assert decay.retraining is not None and decay.retraining.error == "QualityGateRejected"
    assert "threshold 25" in (decay.retraining.cause or "")
