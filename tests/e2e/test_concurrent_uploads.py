"""Three uploads at once (modelrail.release): versions 1..3, one champion, the best of them
by the gate's rule, and every other version in a final, explained status."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelrail.local.cloud import LocalCloud
from modelrail.registry import AliasName, VersionStatus
from modelrail.release import evidence_chain
from modelrail.sample import sample_command
from tests.e2e.registry_waits import registry_of
from tests.e2e.test_release_path import deployed

pytestmark = pytest.mark.e2e
MODEL = "demand"
S = VersionStatus
#: Where every version must end once the uploads' deployments are over.
DECIDED = {S.PRODUCTION, S.ARCHIVED, S.SUPERSEDED, S.REJECTED}


def test_concurrent_uploads_end_with_one_champion_and_every_version_decided(
    assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("concurrent-data")
    files = [
        sample_command(MODEL, rows, seed, data / f"upload-{rows}.csv")
        for rows, seed in ((1500, 21), (3000, 22), (6000, 23))
    ]
    with LocalCloud(
        assembly=assembly, work_dir=tmp_path_factory.mktemp("concurrent-cloud")
    ) as cloud:
        started = [cloud.upload(MODEL, path) for path in files]  # all three at once
        runs = [cloud.wait(cloud.execution_arn_for(key, version)) for key, version in started]
        outcomes = [deployed(cloud, run) for run in runs if run.status == "SUCCEEDED"]
        registry = registry_of(cloud)
        versions = registry.list_versions(MODEL, newest_first=False)

        assert [v.version for v in versions] == [1, 2, 3], [r.to_json() for r in runs]
        undecided = {v.version: v.status for v in versions if v.status not in DECIDED}
        assert not undecided, undecided
        champion = registry.resolve_alias(MODEL, AliasName.CHAMPION)
        assert champion is not None and champion.status is S.PRODUCTION
        assert [v.version for v in versions if v.status is S.PRODUCTION] == [champion.version]
        # The champion is the best by the gate's rule: it was judged better than every
        # other version that passed its gates, directly or through its chain.
        chain = evidence_chain(registry, champion)
        passed = {v.version for v in versions if v.gates_passed} - {champion.version}
        assert passed <= set(chain), (champion.version, chain, passed)
        for version in versions:
            if version.version != champion.version:
                assert version.status_history[-1].reason, version.version
        for version in versions:
            if version.status is S.SUPERSEDED:
                assert "superseded by" in version.status_history[-1].reason
        # Every deployment the uploads started went out or was superseded; none was
        # refused as busy or left waiting.
        assert set(outcomes) <= {"PRODUCTION", "SUPERSEDED"}, outcomes
