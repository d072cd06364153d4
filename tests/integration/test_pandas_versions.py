"""The data handlers run on the AWS SDK for pandas layer (pandas 3, numpy 2, pyarrow 22)
while the venv and the SageMaker container run pandas 2. The data gate and the baseline
profile must not notice: the same bytes give the same report and the same profile in
both, and their test suites pass on the layer's versions."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from infra.assets import stage_lambda
from modelrail.contract import load_contract
from modelrail.local import layers
from modelrail.sample import generate
from modelrail.steps.contracts import contract_for
from modelrail.steps.prepare import read_frame
from tests.conftest import ROOT

BAD = ROOT / "tests" / "data" / "bad"
# Runs inside the layer environment from the prepare_data asset's own modelrail.
_CHILD = """
import json, sys
from pathlib import Path
import pandas
from modelrail.columns import CsvColumns, ParquetColumns
from modelrail.profile import build_profile, build_profile_streamed, profile_json
from modelrail.steps.contracts import contract_for
from modelrail.steps.prepare import read_frame
from modelrail.validation import validate_dataset

def columns_of(name):
    opener = lambda: open(name, "rb")
    return ParquetColumns(opener) if name.endswith(".parquet") else CsvColumns(opener)

out = {"pandas": pandas.__version__}
for name, model in json.loads(sys.argv[1]).items():
    data = Path(name).read_bytes()
    contract = contract_for(model, Path("contracts"))
    report = validate_dataset(data, filename=Path(name).name, contract=contract,
                              limits=contract.validation_limits())
    profile = None
    streamed = None
    if report.ok:
        profile = profile_json(build_profile(read_frame(data, name), contract)).decode()
        streamed = profile_json(build_profile_streamed(
            columns_of(name), contract, rows=report.rows, memory=1)).decode()
    out[name] = {"report": report.to_json(), "profile": profile, "streamed": streamed}
print(json.dumps(out))
"""


def _in_venv(files: dict[str, str], contracts: Path) -> dict[str, Any]:
    from modelrail.columns import CsvColumns, ParquetColumns
    from modelrail.profile import build_profile, build_profile_streamed, profile_json
    from modelrail.validation import validate_dataset

    out: dict[str, Any] = {}
    for name, model in files.items():
        data = Path(name).read_bytes()
        contract = contract_for(model, contracts)
        report = validate_dataset(
            data, filename=Path(name).name, contract=contract, limits=contract.validation_limits()
        )
        profile = streamed = None
        if report.ok:
            profile = profile_json(build_profile(read_frame(data, name), contract)).decode()
            opener = partial(open, name, "rb")
            source = ParquetColumns(opener) if name.endswith(".parquet") else CsvColumns(opener)
            streamed = profile_json(
                build_profile_streamed(source, contract, rows=report.rows, memory=1)
            ).decode()
        out[name] = {"report": report.to_json(), "profile": profile, "streamed": streamed}
    return out


@pytest.fixture(scope="module")
def layer_env() -> layers.LayerEnvironment:
    return layers.ensure_environment(layers.configured_layer_sets()[0])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("datasets")
    files = {str(path): "demand" for path in sorted(BAD.iterdir()) if path.suffix != ".py"}
    for model in ("demand", "churn"):
        contract = load_contract(model)
        for variant in ("good", "drifted"):
            frame = generate(contract, rows=1500, seed=3, variant=variant)
            csv = folder / f"{model}-{variant}.csv"
            frame.to_csv(csv, index=False)
            parquet = folder / f"{model}-{variant}.parquet"
            frame.to_parquet(parquet, index=False)
            files |= {str(csv): model, str(parquet): model}
    return files


def test_reports_and_profiles_are_identical_on_pandas_2_and_the_layers_pandas_3(
    layer_env: layers.LayerEnvironment, datasets: dict[str, str], tmp_path: Path
) -> None:
    asset = stage_lambda("prepare_data", build_dir=tmp_path)
    proc = subprocess.run(
        [layer_env.python.path, "-I", "-S", "-B", "-c",
         f"import sys; sys.path[:0] = {[str(asset), *layer_env.search_path]!r}\n" + _CHILD,
         json.dumps(datasets)],
        cwd=asset, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    layer = json.loads(proc.stdout)
    assert layer.pop("pandas").startswith("3."), "the layer's pandas is 3.x"
    assert pd.__version__.startswith("2."), "the venv's pandas is 2.x (as in SageMaker)"
    venv = _in_venv(datasets, asset / "contracts")
    assert layer.keys() == venv.keys()
    for name in venv:
        assert layer[name] == venv[name], name
        assert venv[name]["streamed"] == venv[name]["profile"], name
    assert sum(v["profile"] is not None for v in venv.values()) == 8


@pytest.fixture(scope="module")
def test_tools(
    tmp_path_factory: pytest.TempPathFactory, layer_env: layers.LayerEnvironment
) -> Path:
    """pytest, hypothesis and PyYAML (the tests read YAML contracts) for the layer's Python."""
    target = layer_env.root.with_name(layer_env.root.name + "-test-tools")
    if not (target / ".complete").exists():
        staging = tmp_path_factory.mktemp("tools")
        layers.pip_install(
            layer_env.python, staging, ("pytest>=8", "hypothesis>=6.100", "pyyaml>=6")
        )
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(staging, target)
        (target / ".complete").touch()
    return target


def test_the_validation_and_profile_suites_pass_on_the_layers_pandas(
    layer_env: layers.LayerEnvironment, test_tools: Path
) -> None:
    search = [str(ROOT), str(test_tools), *layer_env.search_path]
    run = (
        f"import sys; sys.path[:0] = {search!r}\n"
        "import pytest, pandas\n"
        "assert pandas.__version__.startswith('3.'), pandas.__version__\n"
        "sys.exit(pytest.main(sys.argv[1:]))\n"
    )
    proc = subprocess.run(
        [layer_env.python.path, "-I", "-S", "-B", "-c", run,
         "-q", "-p", "no:cacheprovider", "-W", "error::FutureWarning",
         "-W", "error::DeprecationWarning",
         "tests/unit/test_validation.py", "tests/unit/test_profile.py",
         "tests/unit/test_validation_stream.py", "tests/unit/test_profile_stream.py",
         # writes gzip headers, whose OS byte differs between Python 3.11 and 3.13
         "--deselect", "tests/unit/test_validation.py::test_corpus_is_up_to_date"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1], proc.stdout[-500:]
