"""Register: write the trained version with its full lineage to the registry.

Runs for every trained model: one that passed its gates is REGISTERED, one that failed is
kept as REJECTED with the gate's reasons.

Idempotent by training job: a retried Lambda invocation returns the version the first
attempt registered and writes nothing.
"""

from __future__ import annotations

from modelrail.contract import ModelContract
from modelrail.registry import (
    AliasName,
    ChampionComparison,
    DataRef,
    GateResult,
    Lineage,
    ModelRegistry,
    VersionStatus,
)
from modelrail.steps.models import RegisterInput, RegisterOutput


def code_version(request: RegisterInput, fallback: str) -> str:
    """The training code asset's hash, read from the job's submit-directory hyperparameter."""
    submitted = request.training.hyperparameters.get("sagemaker_submit_directory", "").strip('"')
    name = submitted.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".gz"):
        name = name.removesuffix(suffix)
    return name or fallback


def run_register(
    request: RegisterInput,
    *,
    contract: ModelContract,
    registry: ModelRegistry,
    code_fallback: str = "unknown",
    git_commit: str | None = None,
) -> RegisterOutput:
    dataset = request.validation.dataset
    if dataset.sha256 is None or dataset.rows is None or dataset.size_bytes is None:
        raise ValueError(
            "the validation result carries no dataset fingerprint; refusing to register"
        )
    champion = registry.get_alias(request.model, AliasName.CHAMPION)
    lineage = Lineage(
        data=DataRef(
            bucket=dataset.bucket,
            key=dataset.key,
            version_id=dataset.version_id,
            sha256=dataset.sha256,
            rows=dataset.rows,
            size_bytes=dataset.size_bytes,
        ),
        baseline_profile_uri=request.prepared.profile_uri if request.prepared else None,
        code_version=code_version(request, code_fallback),
        git_commit=git_commit or None,
        champion_at_training=champion.version if champion else None,
        training_image=request.training.image,
        hyperparameters=dict(request.training.hyperparameters),
        seed=contract.seed,
        training_job_name=request.training.job_name,
        training_job_arn=request.training.job_arn,
        tuning_job_arn=request.training.tuning_job_arn,
        pipeline_execution_arn=request.execution,
        model_artifact_uri=request.training.model_artifacts,
    )
    version = registry.register_version(
        request.model,
        metrics=request.gate.metrics,
        lineage=lineage,
        gates=[
            GateResult(
                name="data_validation", passed=True, reasons=list(request.validation.warnings)
            ),
            GateResult(
                name="quality",
                passed=request.gate.passed,
                reasons=[c["message"] for c in request.gate.checks if not c.get("passed", False)],
                comparison=(
                    None
                    if request.gate.comparison is None
                    else ChampionComparison.model_validate(request.gate.comparison)
                ),
            ),
        ],
        created_by=request.requested_by,
        # A rejected model is kept, with its reasons, as REJECTED: nothing is lost.
        status=VersionStatus.REGISTERED if request.gate.passed else VersionStatus.REJECTED,
    )
    return RegisterOutput(model=version.model, version=version.version, status=version.status.value)
