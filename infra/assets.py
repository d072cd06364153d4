"""Stage the code that CDK ships, deterministically and without Docker.

* A Lambda asset is ``functions/<name>/`` plus the ``modelrail`` core package (minus the
  local cloud and CLI, which need moto) plus every contract rendered to JSON. Third-party
  libraries come from the function's layers (Powertools, AWS SDK for pandas).
* The training asset is ``sourcedir.tar.gz`` in the SageMaker script-mode layout:
  ``training/*.py`` at the top, the core modules they import under ``modelrail/``
  (:data:`TRAINING_CORE_MODULES`) and ``contracts/<name>.json`` beside them.
* The dataset Processing job's asset is ``dataset-job.pyz``, a zip application:
  ``processing/dataset_job.py`` as ``__main__.py``, the core package as for a Lambda,
  the contracts and ``requirements.txt`` (the libraries the framework image lacks).

The same bytes are what the local cloud runs: it publishes these assets into its S3
from the cloud assembly, exactly as ``cdk deploy`` does.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from modelrail.contract import CONTRACTS_DIR, load_contracts

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "assets"
FUNCTIONS = ROOT / "functions"
TRAINING = ROOT / "training"
# The modelrail modules the training and serving code import (one definition of a value's
# canonical form, of category counting and of the drift baseline); they must keep to the container's Python (tests/unit/
# test_training_container_compat.py checks them with training/).
TRAINING_CORE_MODULES = (
    "__init__.py",
    "canonical.py",
    "categories.py",
    "drift_summary.py",
    "metrics.py",
    "payloads.py",
)
PROCESSING = ROOT / "processing"
#: What the dataset job imports beyond the scikit-learn image's libraries (numpy, pandas),
#: pinned to the versions installed here, which the tests run: pydantic for the core's
#: models, pyarrow for the streamed validation and profile (D43).
DATASET_JOB_REQUIREMENTS = ("pydantic", "pyarrow")
PACKAGE = ROOT / "modelrail"
# Parts of the package that never run inside Lambda: the local cloud and the commands
# (and what only they use: sample data, model cards, the demo).
_PACKAGE_EXCLUDES = frozenset(
    {
        "local",
        "cli",
        "demo.py",
        "demo_monitoring.py",
        "model_card.py",
        "sample.py",
        "__pycache__",
    }
)


def _copy_py_tree(src: Path, dst: Path, *, exclude: frozenset[str] = frozenset()) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in exclude or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file() and path.suffix in {".py", ".json", ".typed"}:
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def rendered_contracts(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, bytes]:
    """Every contract as canonical JSON bytes, validated (a bad contract fails synth)."""
    return {
        name: json.dumps(contract.to_runtime_json(), indent=2, sort_keys=True).encode() + b"\n"
        for name, contract in sorted(load_contracts(contracts_dir).items())
    }


def lambda_function_names() -> list[str]:
    return sorted(p.name for p in FUNCTIONS.iterdir() if (p / "handler.py").is_file())


def stage_lambda(name: str, *, build_dir: Path = BUILD) -> Path:
    source = FUNCTIONS / name
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"functions/{name}/handler.py does not exist")
    out = build_dir / "lambda" / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _copy_py_tree(source, out)
    _copy_py_tree(PACKAGE, out / "modelrail", exclude=_PACKAGE_EXCLUDES)
    contracts = out / "contracts"
    contracts.mkdir()
    for name_, data in rendered_contracts().items():
        (contracts / f"{name_}.json").write_bytes(data)
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def training_source_bytes() -> bytes:
    """``sourcedir.tar.gz`` with fixed metadata, so the same code gives the same hash."""
    files: dict[str, bytes] = {}
    for path in sorted(TRAINING.glob("*.py")):
        files[path.name] = path.read_bytes()
    for module in TRAINING_CORE_MODULES:
        files[f"modelrail/{module}"] = (PACKAGE / module).read_bytes()
    for name, data in rendered_contracts().items():
        files[f"contracts/{name}.json"] = data
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            _add_bytes(tar, name, files[name])
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def stage_training_source(*, build_dir: Path = BUILD) -> Path:
    out = build_dir / "training" / "sourcedir.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(training_source_bytes())
    return out


def dataset_job_requirements() -> str:
    pins = [f"{name}=={metadata.version(name)}" for name in DATASET_JOB_REQUIREMENTS]
    return "# installed by __main__ when the image lacks them\n" + "\n".join(pins) + "\n"


def dataset_job_bytes() -> bytes:
    """``dataset-job.pyz`` with fixed metadata, so the same code gives the same hash."""
    files: dict[str, bytes] = {"__main__.py": (PROCESSING / "dataset_job.py").read_bytes()}
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        _copy_py_tree(PACKAGE, staged, exclude=_PACKAGE_EXCLUDES)
        for path in sorted(staged.rglob("*")):
            if path.is_file():
                files[f"modelrail/{path.relative_to(staged).as_posix()}"] = path.read_bytes()
    for name, data in rendered_contracts().items():
        files[f"contracts/{name}.json"] = data
    files["requirements.txt"] = dataset_job_requirements().encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return out.getvalue()


def stage_dataset_job(*, build_dir: Path = BUILD) -> Path:
    out = build_dir / "processing" / "dataset-job.pyz"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(dataset_job_bytes())
    return out


def source_commit(root: Path = ROOT) -> str:
    """``git rev-parse HEAD`` (``-dirty`` when tracked files changed), or "" outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"{head}-dirty" if dirty else head
