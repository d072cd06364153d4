"""What a deployed function can import: its managed layers and the runtime's own SDK.

AWS gives a python3.13 function three places to import from besides the standard
library: its code (``/var/task``), its layers (unpacked into ``/opt/python``) and the
runtime's boto3/botocore (``/var/runtime``). This module rebuilds the last two on this
machine, once per layer set, from PyPI with the Lambda runtime's Python:

    .modelrail/layers/<hash>/layer-0-<name>-<version>/   one folder per configured layer
    .modelrail/layers/<hash>/runtime/                    boto3, botocore and their deps

``<hash>`` covers the requirement lists and the interpreter's version, so a change to
either builds a new environment. Folders hold no ``.pyc``, as the managed layers do not.

    python -m modelrail.local.layers build   # what `make install` runs (quiet when built)
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / ".modelrail" / "layers"
DEFAULT_RUNTIME = "python3.13"
_FORMAT = 1  # bump to rebuild every cached environment after a change to the build itself
_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:layer:(?P<name>[\w-]+):(?P<version>\d+)$")


class LayerError(RuntimeError):
    """A layer cannot be reproduced locally (unknown ARN, failed install)."""


@dataclass(frozen=True)
class LayerContents:
    """What one published layer version carries, as pip requirements.

    ``removed`` are the top-level names the publisher's build deletes after installing
    (boto3 and friends come from the runtime), matched as glob patterns in the folder.
    """

    release: str
    requirements: tuple[str, ...]
    removed: tuple[str, ...]
    source: str


# (layer name, layer version) -> contents, read from each publisher's docs and build.
# The pandas layer numbers its releases per region (docs/source/layers.rst of
# aws/aws-sdk-pandas): 3.16.1 is :12 in us-east-1 and most commercial regions and :11 in
# af-south-1 (infra/layers.py deploys each region's number).
LAYERS: Mapping[tuple[str, int], LayerContents] = {
    ("AWSLambdaPowertoolsPythonV3-python313-x86_64", 27): LayerContents(
        release="aws-lambda-powertools 3.23.0",
        # Layer 27 is the one published for 3.23.0 (2025-11-13): the docs moved to :27 in
        # powertools-lambda-python#7757, between 3.23.0 and the next release. The layer is
        # `pip install aws-lambda-powertools[all]` at release time: pydantic resolves to
        # the release then current.
        requirements=("aws-lambda-powertools[all]==3.23.0", "pydantic==2.12.4"),
        # powertools-lambda-layer-cdk layer/Pythonv3/Dockerfile
        removed=("boto*", "s3transfer*", "*dateutil*", "urllib3*", "six*", "jmespath*"),
        source="docs/getting-started/install.md and PR #7757 of powertools-lambda-python",
    ),
    **{
        ("AWSSDKPandas-Python313", version): LayerContents(
            release="awswrangler 3.16.1",
            # building/lambda/build-lambda-layer.sh at the 3.16.1 release: the listed
            # extras, pyarrow pinned to 22.0.0 (ARROW_VERSION), numpy and pandas as pip
            # resolved them on the layer's publication day (2026-05-08).
            requirements=(
                "awswrangler[redshift,mysql,postgres,gremlin,opensearch,openpyxl]==3.16.1",
                "pyarrow==22.0.0",
                "pandas==3.0.2",
                "numpy==2.4.4",
            ),
            removed=("boto*", "urllib3*", "s3transfer*"),
            source="docs/source/layers.rst and building/lambda/ of aws/aws-sdk-pandas 3.16.1",
        )
        for version in (11, 12)
    },
}

# The SDK the runtime itself ships (/var/runtime). AWS documents no fixed version (it
# varies by region and with runtime updates; the Lambda guide gives a function that
# prints it): this pin is an assumption, older than the venv's boto3 as Lambda's is.
RUNTIME_SDK: Mapping[str, tuple[str, ...]] = {
    "python3.13": ("boto3==1.40.4", "botocore==1.40.4"),
}


@dataclass(frozen=True)
class LayerRef:
    name: str
    version: int
    arn: str

    @classmethod
    def parse(cls, arn: str) -> LayerRef:
        match = _ARN.match(arn)
        if not match:
            raise LayerError(f"not a Lambda layer version ARN: {arn!r}")
        return cls(match["name"], int(match["version"]), arn)

    @property
    def contents(self) -> LayerContents:
        try:
            return LAYERS[(self.name, self.version)]
        except KeyError:
            known = ", ".join(f"{n}:{v}" for n, v in sorted(LAYERS))
            raise LayerError(
                f"layer {self.arn} is not in modelrail.local.layers.LAYERS, so the local "
                f"cloud cannot reproduce it; known: {known}"
            ) from None


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.13.0"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class LayerEnvironment:
    """The folders one function imports from, besides its code and the stdlib."""

    python: Interpreter
    layers: tuple[Path, ...]  # in the function's configured order
    runtime: Path
    refs: tuple[LayerRef, ...]
    runtime_id: str

    @property
    def root(self) -> Path:
        return self.runtime.parent

    @property
    def built(self) -> bool:
        return (self.root / ".complete").exists()

    def build_info(self) -> dict[str, object]:
        info: dict[str, object] = json.loads((self.root / "build.json").read_text())
        return info

    @property
    def search_path(self) -> list[str]:
        """sys.path entries after the function's code. Lambda extracts layers into /opt
        in order, a later layer's files replacing an earlier one's: the later layer is
        searched first here to the same effect."""
        return [*(str(p) for p in reversed(self.layers)), str(self.runtime)]


def _probe(path: str) -> Interpreter | None:
    try:
        proc = subprocess.run(
            [path, "-I", "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    version = proc.stdout.strip()
    return Interpreter(path, version) if proc.returncode == 0 and version else None


def _candidates(executable: str) -> Iterator[str]:
    found = shutil.which(executable)
    if found:
        yield found
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    minor = executable.removeprefix("python")
    installed = (pyenv / "versions").glob(f"{minor}.*")
    for folder in sorted(installed, key=_version_key, reverse=True):  # newest patch first
        yield str(folder / "bin" / executable)
    for prefix in ("/usr/local/bin", "/usr/bin"):
        yield f"{prefix}/{executable}"


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in folder.name.split("."))


@cache
def interpreter_for(runtime: str) -> Interpreter:
    """The Python matching a Lambda runtime id (``python3.13``), else this interpreter
    with a warning naming the mismatch."""
    minor = runtime.removeprefix("python")
    for path in _candidates(runtime):
        found = _probe(path)
        if found is not None and found.minor == minor:
            return found
    current = Interpreter(sys.executable, ".".join(map(str, sys.version_info[:3])))
    logger.warning(
        "no %s interpreter found: Lambda workers run on Python %s instead, so "
        "version-specific behaviour (and wheels) may differ from AWS",
        runtime,
        current.version,
    )
    return current


def environment_key(refs: Sequence[LayerRef], python: Interpreter, runtime: str) -> str:
    spec = {
        "format": _FORMAT,
        "python": python.version,
        "layers": [
            [r.name, r.version, list(r.contents.requirements), list(r.contents.removed)]
            for r in refs
        ],
        "runtime": list(RUNTIME_SDK[runtime]),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def pip_install(python: Interpreter, target: Path, requirements: Sequence[str]) -> None:
    cmd = [
        python.path, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-input", "--no-warn-script-location", "--no-compile", "--only-binary=:all:",
        "--target", str(target), *requirements,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LayerError(f"pip could not install {list(requirements)}:\n{proc.stderr[-3000:]}")


def _remove(folder: Path, patterns: Sequence[str]) -> None:
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    for cache_dir in folder.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)


def _folder_name(index: int, ref: LayerRef) -> str:
    return f"layer-{index}-{ref.name}-{ref.version}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def plan_environment(
    layer_arns: Sequence[str],
    *,
    runtime: str = DEFAULT_RUNTIME,
    cache_root: Path = DEFAULT_CACHE,
) -> LayerEnvironment:
    """Where the layer environment for these ARNs lives (built or not)."""
    if runtime not in RUNTIME_SDK:
        raise LayerError(f"runtime {runtime!r} has no entry in RUNTIME_SDK")
    refs = tuple(LayerRef.parse(arn) for arn in layer_arns)
    python = interpreter_for(runtime)
    root = cache_root / environment_key(refs, python, runtime)
    return LayerEnvironment(
        python,
        tuple(root / _folder_name(i, r) for i, r in enumerate(refs)),
        root / "runtime",
        refs,
        runtime,
    )


def ensure_environment(
    layer_arns: Sequence[str],
    *,
    runtime: str = DEFAULT_RUNTIME,
    cache_root: Path = DEFAULT_CACHE,
) -> LayerEnvironment:
    """The layer environment for these ARNs, built on first use (a minute or two) and
    cached; concurrent callers wait for one build."""
    env = plan_environment(layer_arns, runtime=runtime, cache_root=cache_root)
    if not env.built:
        with _locked(env.root.with_name(env.root.name + ".lock")):
            if not env.built:
                _build(env)
    return env


def _build(env: LayerEnvironment) -> None:
    started = time.monotonic()
    root = env.root
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for folder, ref in zip(env.layers, env.refs, strict=True):
        pip_install(env.python, staging / folder.name, ref.contents.requirements)
        _remove(staging / folder.name, ref.contents.removed)
    pip_install(env.python, staging / env.runtime.name, RUNTIME_SDK[env.runtime_id])
    _remove(staging / env.runtime.name, ())
    summary = {
        "python": env.python.version,
        "seconds": round(time.monotonic() - started, 1),
        "megabytes": round(_size(staging) / 1e6, 1),
        "layers": [r.arn for r in env.refs],
    }
    (staging / "build.json").write_text(json.dumps(summary, indent=2) + "\n")
    (staging / ".complete").touch()
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    logger.info("built layer environment %s: %s", root.name, summary)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def configured_layer_sets(cdk_json: Path = ROOT / "cdk.json") -> list[tuple[str, ...]]:
    """The layer ARNs of every environment in cdk.json (``infra/layers.py`` per region)."""
    from infra.config import load_environments

    context = json.loads(cdk_json.read_text())["context"]["modelrail:environments"]
    sets: list[tuple[str, ...]] = []
    for config in load_environments(context).values():
        arns = tuple(config.layer_arns())
        if arns not in sets:
            sets.append(arns)
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelrail.local.layers")
    parser.add_argument("command", choices=["build"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for arns in configured_layer_sets():
        env = plan_environment(arns)
        if env.built:
            continue
        env = ensure_environment(arns)
        info = env.build_info()
        print(
            f"layer environment {env.root.name}: Python {info['python']}, "
            f"{info['megabytes']} MB, built in {info['seconds']} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


@dataclass(frozen=True)
class ImportProbe:
    seconds: float
    origins: Mapping[str, str]  # top-level module imported -> its file ("" if built in)

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(self.origins)


_PROBE = """
import json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
started = time.perf_counter()
module = __import__(sys.argv[2])
seconds = time.perf_counter() - started
top = {name.split(".")[0] for name in sys.modules}
origins = {name: getattr(sys.modules[name], "__file__", None) or "" for name in top}
print(json.dumps({"seconds": seconds, "origins": origins}))
"""


def probe_import(
    task_root: Path, env: LayerEnvironment, module: str = "handler", *, environ: Mapping[str, str]
) -> ImportProbe:
    """Import ``module`` from a function's code in a fresh isolated process of the layer
    environment, compiling everything (``-B``: no bytecode read or written, as a cold
    start on the managed layers, which ship none)."""
    search = [str(task_root), *env.search_path]
    proc = subprocess.run(
        [env.python.path, "-I", "-S", "-B", "-c", _PROBE, json.dumps(search), module],
        cwd=task_root,
        env=dict(environ),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise LayerError(f"importing {module} from {task_root} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return ImportProbe(float(result["seconds"]), dict(result["origins"]))
