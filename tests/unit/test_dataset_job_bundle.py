"""dataset-job.pyz, the Processing job's code (infra/assets.py): what it holds, that it
needs nothing the scikit-learn image lacks beyond requirements.txt, and that it runs as
SageMaker runs it (``python3 <archive> --...``) with the verdict in the message file."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from infra.assets import dataset_job_bytes, rendered_contracts
from modelrail.sample import sample_command
from tests.unit.test_training_container_compat import CONTAINER


@pytest.fixture(scope="module")
def archive() -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(dataset_job_bytes()))


def test_the_archive_is_deterministic_and_holds_the_entry_contracts_and_pins(
    archive: zipfile.ZipFile,
) -> None:
    assert dataset_job_bytes() == dataset_job_bytes()
    names = set(archive.namelist())
    assert {"__main__.py", "requirements.txt", "modelrail/dataset_job.py"} <= names
    assert {f"contracts/{n}.json" for n in rendered_contracts()} <= names
    assert not any(n.startswith("modelrail/local/") for n in names)
    pins = archive.read("requirements.txt").decode().splitlines()
    assert f"pydantic=={metadata.version('pydantic')}" in pins


def _imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_what_the_job_imports_is_in_the_image_or_its_requirements(
    archive: zipfile.ZipFile,
) -> None:
    """Every module reachable from the entry point, followed through the package."""
    required = {
        line.split("==")[0]
        for line in archive.read("requirements.txt").decode().splitlines()
        if line and not line.startswith("#")
    }
    allowed = set(sys.stdlib_module_names) | CONTAINER["third_party"] | required
    seen: set[str] = set()
    queue = ["__main__.py"]
    outside: set[str] = set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        for module in _imports(archive.read(name).decode()):
            if module.split(".")[0] != "modelrail":
                if module.split(".")[0] not in allowed:
                    outside.add(module)
                continue
            path = module.replace(".", "/")
            for candidate in (f"{path}.py", f"{path}/__init__.py"):
                if candidate in archive.namelist():
                    queue.append(candidate)
    assert "modelrail/validation.py" in seen and "modelrail/profile.py" in seen
    # modelrail.contract imports PyYAML inside _parse_yaml only; the job parses JSON.
    assert outside == {"yaml"}


def test_the_image_runs_a_python_new_enough_for_the_core() -> None:
    # The core uses Python 3.11 (enum.StrEnum, typing.Self): the py312 image, not "1.4-2".
    assert CONTAINER["framework_version"].endswith("-py312")


def test_the_archive_runs_as_sagemaker_runs_it(tmp_path: Path) -> None:
    job = tmp_path / "job.pyz"
    job.write_bytes(dataset_job_bytes())
    source = sample_command("demand", 300, 5, tmp_path / "in" / "2026-11.csv")
    message = tmp_path / "output" / "message"
    args = [
        "--model", "demand", "--key", "incoming/demand/2026-11.csv",
        "--expected-size", str(source.stat().st_size), "--input-dir", str(source.parent),
        "--dataset-dir", str(tmp_path / "dataset"), "--quarantine-dir", str(tmp_path / "q"),
        "--message-file", str(message),
    ]  # fmt: skip
    done = subprocess.run([sys.executable, str(job), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    verdict = json.loads(message.read_text())
    assert verdict["ok"] is True and verdict["rows"] == 300
    assert (tmp_path / "dataset" / "data" / "train.csv").read_bytes() == source.read_bytes()

    unknown = subprocess.run(
        [sys.executable, str(job), *args[:1], "nosuch", *args[2:]], capture_output=True, text=True
    )
    assert unknown.returncode == 1
    assert "contracts/nosuch.json" in message.read_text()
