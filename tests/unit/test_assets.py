"""What `cdk synth` ships: self-contained Lambda assets and a reproducible training source."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from infra.assets import lambda_function_names, stage_lambda, training_source_bytes
from tests.conftest import ROOT


def test_the_training_source_is_byte_for_byte_reproducible() -> None:
    assert training_source_bytes() == training_source_bytes()


def test_the_training_source_is_script_mode_shaped() -> None:
    with tarfile.open(fileobj=io.BytesIO(training_source_bytes()), mode="r:gz") as tar:
        names = tar.getnames()
        contract = json.loads(tar.extractfile("contracts/demand.json").read())  # type: ignore[union-attr]
    assert {"train.py", "inference.py", "modelrail_features.py"} <= set(names)
    assert contract["name"] == "demand" and contract["target"] == "units_sold"


@pytest.mark.parametrize("name", lambda_function_names())
def test_each_lambda_asset_imports_on_its_own(name: str, tmp_path: Path) -> None:
    """The handler imports with only its asset folder and third-party packages on the path:
    nothing it needs may come from the repository checkout."""
    asset = stage_lambda(name, build_dir=tmp_path)
    for left_out in ("local", "cli.py", "registry_cli.py", "deploy_cli.py", "demo.py"):
        assert not (asset / "modelrail" / left_out).exists(), left_out
    assert (asset / "contracts" / "demand.json").is_file()
    probe = f"""
import sys
repo = {str(ROOT)!r}
# keep the interpreter's and the venv's site-packages, drop the checkout (editable install)
sys.path = [{str(asset)!r}] + [
    p for p in sys.path[1:] if p and not (p.startswith(repo) and "site-packages" not in p)
]
for finder in list(sys.meta_path):
    if "editable" in type(finder).__module__ or "__editable__" in repr(finder):
        sys.meta_path.remove(finder)
import handler, modelrail
assert modelrail.__file__.startswith({str(asset)!r}), modelrail.__file__
assert callable(handler.lambda_handler)
"""
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
