"""Register: write the trained version with its full lineage to the registry.

Runs for every trained model: one that passed its gates is REGISTERED, one that failed is
kept as REJECTED with the gate's reasons.

A passing model is registered only if the version it was judged against (the reference,
modelrail.release) is still the reference: the registration is conditional on the latest
version read with it. When another run registered a passing version first, nothing is
written and the run is sent back (``rejudge``) to be judged against the new reference,
at most ``MAX_ROUNDS`` times (then ReferenceKeptMoving fails the run, nothing written).
A failing model is registered REJECTED as it is: beating a newer reference is harder.

Idempotent by training job: a retried Lambda invocation returns the version the first
attempt registered and writes nothing.
"""

from __future__ import annotations

from modelrail.contract import ModelContract
from modelrail.registry import (
    ChampionComparison,
    ComparedWith,
    DataRef,
    GateResult,
    Lineage,
    ModelRegistry,
    StaleRegistration,
    VersionStatus,
)
from modelrail.registry.models import RetrainCause
from modelrail.release import MAX_ROUNDS, ReferenceKeptMoving, comparison_reference
from modelrail.steps.models import RegisterInput, RegisterOutput

#: Conditional registrations lost to a REJECTED registration (which does not move the
#: reference) are retried at once, this many times.
_ATTEMPTS = 10


def code_version(request: RegisterInput, fallback: str) -> str:
    """The training code asset's hash, read from the job's submit-directory hyperparameter."""
    submitted = request.training.hyperparameters.get("sagemaker_submit_directory", "").strip('"')
    name = submitted.rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".gz"):
        name = name.removesuffix(suffix)
    return name or fallback


def _compared_with(request: RegisterInput) -> ComparedWith | None:
    if request.prepared is None:
        return None
    return ComparedWith.model_validate(request.prepared.compared_with)


def _lineage(
    request: RegisterInput, contract: ModelContract, code_fallback: str, git_commit: str | None
) -> Lineage:
    dataset = request.validation.dataset
    if dataset.sha256 is None or dataset.rows is None or dataset.size_bytes is None:
        raise ValueError(
            "the validation result carries no dataset fingerprint; refusing to register"
        )
    compared = _compared_with(request)
    return Lineage(
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
        # What PrepareData read, not the champion now: the gate judged against that.
        champion_at_training=None if compared is None else compared.champion,
        compared_with=compared,
        training_image=request.training.image,
        hyperparameters=dict(request.training.hyperparameters),
        seed=contract.seed,
        training_job_name=request.training.job_name,
        training_job_arn=request.training.job_arn,
        tuning_job_arn=request.training.tuning_job_arn,
        pipeline_execution_arn=request.execution,
        model_artifact_uri=request.training.model_artifacts,
        retrain=None
        if request.retrain is None
        else RetrainCause.model_validate(request.retrain.model_dump()),
    )


def _gates(request: RegisterInput) -> list[GateResult]:
    return [
        GateResult(name="data_validation", passed=True, reasons=list(request.validation.warnings)),
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
    ]


def run_register(
    request: RegisterInput,
    *,
    contract: ModelContract,
    registry: ModelRegistry,
    code_fallback: str = "unknown",
    git_commit: str | None = None,
) -> RegisterOutput:
    lineage = _lineage(request, contract, code_fallback, git_commit)
    judged = None if lineage.compared_with is None else lineage.compared_with.version

    def register(expected_latest: int | None) -> RegisterOutput:
        version = registry.register_version(
            request.model,
            metrics=request.gate.metrics,
            lineage=lineage,
            gates=_gates(request),
            created_by=request.requested_by,
            # A rejected model is kept, with its reasons, as REJECTED: nothing is lost.
            status=VersionStatus.REGISTERED if request.gate.passed else VersionStatus.REJECTED,
            expected_latest=expected_latest,
        )
        return RegisterOutput(
            model=version.model,
            version=version.version,
            status=version.status.value,
            reference=judged,
            reason=lineage.compared_with.reason if lineage.compared_with else "",
        )

    if not request.gate.passed or lineage.compared_with is None:
        return register(None)
    for _ in range(_ATTEMPTS):
        latest = registry.latest_version(request.model)
        reference = comparison_reference(
            registry, request.model, exclude_job=lineage.training_job_name
        )
        if reference.number != judged:
            return _rejudge(request, judged, reference.number, reference.reason)
        try:
            return register(0 if latest is None else latest.version)
        except StaleRegistration:
            continue  # a version was registered meanwhile: read the reference again
    raise ReferenceKeptMoving(
        f"{request.model}: registrations kept racing this one ({_ATTEMPTS} attempts); "
        "nothing was registered"
    )


def _rejudge(
    request: RegisterInput, judged: int | None, reference: int | None, why: str
) -> RegisterOutput:
    current = request.round
    was = "nothing" if judged is None else f"v{judged}"
    now = "nothing" if reference is None else f"v{reference}"
    if current >= MAX_ROUNDS:
        raise ReferenceKeptMoving(
            f"{request.model}: judged {current} times and the reference moved each time "
            f"(judged against {was}, now {now}: {why}); nothing was registered, upload again"
        )
    return RegisterOutput(
        model=request.model,
        version=None,
        status="rejudge",
        rejudge=True,
        next_round=current + 1,
        reference=reference,
        reason=f"judged against {was}, but {why}: judging again against {now}",
    )
