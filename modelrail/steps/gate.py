"""QualityGate: read the training job's evaluation and judge it against the contract."""

from __future__ import annotations

import io
import json
import tarfile
from typing import TYPE_CHECKING, Any

from modelrail.contract import ModelContract
from modelrail.gates import evaluate_gate
from modelrail.steps.models import GateInput, GateOutput

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

EVALUATION_FILE = "evaluation.json"


class EvaluationMissing(RuntimeError):
    """The training job finished without writing evaluation.json."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def output_archive_uri(model_artifacts: str) -> str:
    """SageMaker writes output.tar.gz (SM_OUTPUT_DATA_DIR) beside model.tar.gz."""
    if not model_artifacts.endswith("/model.tar.gz"):
        raise ValueError(f"unexpected model artifact location {model_artifacts!r}")
    return model_artifacts[: -len("model.tar.gz")] + "output.tar.gz"


def read_output_file(uri: str, name: str, *, s3: S3Client) -> bytes | None:
    """One file the training job wrote in SM_OUTPUT_DATA_DIR, from its output.tar.gz
    (``evaluation.json``; ``drift_baseline.json``, which the monitoring check reads);
    None when the archive has no such file."""
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.lstrip("./") == name:
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read()
    return None


def read_evaluation(uri: str, *, s3: S3Client) -> dict[str, Any]:
    data = read_output_file(uri, EVALUATION_FILE, s3=s3)
    if data is None:
        raise EvaluationMissing(f"{uri} has no {EVALUATION_FILE}")
    evaluation: dict[str, Any] = json.loads(data)
    return evaluation


def run_gate(request: GateInput, *, contract: ModelContract, s3: S3Client) -> GateOutput:
    uri = output_archive_uri(request.training.model_artifacts)
    evaluation = read_evaluation(uri, s3=s3)
    decision = evaluate_gate(contract, evaluation)
    metrics = {
        k: float(v)
        for k, v in (evaluation.get("metrics") or {}).items()
        if isinstance(v, int | float)
    }
    return GateOutput.model_validate(
        {
            "passed": decision.passed,
            "summary": decision.summary(),
            "metrics": metrics,
            "checks": [c.model_dump(mode="json") for c in decision.checks],
            "evaluationUri": uri,
            "comparison": (
                None if decision.comparison is None else decision.comparison.model_dump(mode="json")
            ),
        }
    )
