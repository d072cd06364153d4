"""Entry point of the dataset Processing job (``__main__`` of ``dataset-job.pyz``).

SageMaker runs ``python3 dataset-job.pyz --model ... --filename ...`` in the scikit-learn
framework image (infra/constructs/pipeline.py). The archive holds the ``modelrail``
package, the contracts rendered to JSON and ``requirements.txt``: the libraries the
package needs beyond the image's (pydantic), pinned to the versions this project is
tested with, installed into a temporary folder before ``modelrail`` is imported (D42).
The logic is in :mod:`modelrail.dataset_job`; this file only reads the arguments.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import posixpath
import subprocess
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parent  # the .pyz itself


def _read(name: str) -> bytes:
    with zipfile.ZipFile(ARCHIVE) as archive:
        return archive.read(name)


def _ensure_requirements() -> None:
    """Install what the image lacks; a no-op where every module is importable."""
    pins = [line.strip() for line in _read("requirements.txt").decode().splitlines()]
    pins = [p for p in pins if p and not p.startswith("#")]
    missing = [p for p in pins if importlib.util.find_spec(p.split("==")[0]) is None]
    if not missing:
        return
    target = tempfile.mkdtemp(prefix="modelrail-deps-")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-cache-dir", "--target",
         target, "--only-binary=:all:", *missing],
        check=True,
    )  # fmt: skip
    sys.path.insert(0, target)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="modelrail: validate and profile a dataset")
    parser.add_argument("--model", required=True)
    parser.add_argument("--key", required=True, help="the upload's S3 key")
    parser.add_argument("--expected-size", type=int, default=None)
    parser.add_argument("--input-dir", type=Path, required=True)
    parser.add_argument("--dataset-dir", type=Path, required=True)
    parser.add_argument("--quarantine-dir", type=Path, required=True)
    parser.add_argument("--message-file", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        _ensure_requirements()
        from modelrail.contract import parse_contract
        from modelrail.dataset_job import JobPaths, run_job

        contract = parse_contract(
            json.loads(_read(f"contracts/{args.model}.json")), source=f"{args.model}.json"
        )
        paths = JobPaths(args.input_dir, args.dataset_dir, args.quarantine_dir, args.message_file)
        verdict = run_job(
            paths,
            contract=contract,
            filename=posixpath.basename(args.key),
            expected_size=args.expected_size,
        )
    except Exception as exc:  # the job cannot judge the data: fail it, with the reason
        traceback.print_exc()
        args.message_file.parent.mkdir(parents=True, exist_ok=True)
        args.message_file.write_text(f"{type(exc).__name__}: {exc}"[:1024], encoding="utf-8")
        return 1
    print(json.dumps({"verdict": verdict}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
