"""`make demo`: the main job on the local cloud, narrated for a newcomer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from modelrail.cli import main as cli_main
from modelrail.cli.registry import main as registry_main
from modelrail.cli.registry import print_listing, write_model_card
from modelrail.demo_monitoring import monitoring_demo
from modelrail.deploy.client import DeploymentRun, wait_for
from modelrail.deploy.naming import endpoint_name
from modelrail.layout import QUARANTINE, upload_key
from modelrail.local.cloud import LocalCloud, PipelineRun, StepTiming
from modelrail.local.runner import judgement, registry_snapshot
from modelrail.local.traffic import Traffic
from modelrail.registry import AliasName, DynamoDBRegistry, StaleAlias, VersionStatus
from modelrail.sample import sample_command

MODEL = "demand"


def _step_printer(t0: float) -> object:
    def on_step(step: StepTiming) -> None:
        if step.seconds is None:
            print(f"    [{time.monotonic() - t0:6.2f}s] → {step.state}", flush=True)
        else:
            mark = "✗" if step.failed else "✓"
            print(
                f"    [{time.monotonic() - t0:6.2f}s] {mark} {step.state} ({step.seconds:.2f}s)",
                flush=True,
            )

    return on_step


def _run(cloud: LocalCloud, path: Path, label: str, model: str = MODEL) -> PipelineRun:
    print(
        f"\n▶ {label}: upload {path.name} to s3://{cloud.data_bucket}/{upload_key(model, '')}",
        flush=True,
    )
    t0 = time.monotonic()
    run = cloud.upload_and_wait(model, path, on_step=_step_printer(t0))  # type: ignore[arg-type]
    print(f"  execution {run.execution_arn.rsplit(':', 1)[-1]}: {run.status} in {run.seconds:.1f}s")
    _judged(cloud, run, model)
    return run


def _judged(cloud: LocalCloud, run: PipelineRun, model: str) -> None:
    """What the quality gate compared the model with (D41), as `local run` tells it."""
    rows = [r for r in registry_snapshot(cloud, [model]) if r["execution"] == run.execution_arn]
    for line in judgement(run, rows[0] if rows else None):
        print(f"  {line}")


def run_demo(workdir: Path, *, rows: int = 2000) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    good = sample_command(MODEL, rows, 7, workdir / "demand-good.csv")
    bad = workdir / "demand-missing-target.csv"
    pd.read_csv(good).drop(columns=["units_sold"]).to_csv(bad, index=False)
    print(f"sample data: {good} ({rows} rows) and {bad} (target column removed)")

    print(
        "\nstarting the local cloud: synthesize the CDK app (cached), publish assets, create the stack…"
    )
    t0 = time.monotonic()
    with LocalCloud() as cloud:
        assert cloud.stack is not None
        print(f"  stack {cloud.stack.name} deployed in {time.monotonic() - t0:.1f}s "
              f"({len(cloud.stack.resources)} resources)")  # fmt: skip
        if cloud.iam.enabled:
            print("  IAM enforced: functions, state machines, jobs and endpoints call AWS as "
                  "their roles, authorized against the synthesized policies and key policy")  # fmt: skip

        accepted = _run(cloud, good, "a good dataset")
        if accepted.status != "SUCCEEDED":
            print(
                f"  unexpected failure at {accepted.failed_state}: {accepted.error}: {accepted.message}"
            )
            return 1

        rejected = _run(cloud, bad, "a dataset that breaks the contract")
        print(f"  rejected at {rejected.failed_state}: {rejected.error}")
        print(f"  reason: {rejected.message}")
        s3 = cloud.client("s3")
        quarantined = s3.list_objects_v2(Bucket=cloud.data_bucket, Prefix=QUARANTINE.prefix).get(
            "Contents", []
        )
        for obj in quarantined:
            print(f"  quarantined: s3://{cloud.data_bucket}/{obj['Key']}")
            if obj["Key"].endswith("/report.json"):
                report = json.loads(
                    s3.get_object(Bucket=cloud.data_bucket, Key=obj["Key"])["Body"].read()
                )
                print(f"    report: {report['rows']} rows, {report['error_count']} error(s), "
                      f"{report['warning_count']} warning(s)")  # fmt: skip
                for violation in report["violations"]:
                    print(f"      {violation['severity']} [{violation['code']}] "
                          f"{violation['message']} ({violation['count']}x)")  # fmt: skip
        kept = s3.head_object(
            Bucket=cloud.data_bucket, Key=rejected.key, VersionId=rejected.version_id
        )
        print(f"  the upload itself is untouched: {rejected.key} version {rejected.version_id} "
              f"({kept['ContentLength']} bytes)")  # fmt: skip

        registry = DynamoDBRegistry(
            cloud.output("RegistryTableName"), client=cloud.client("dynamodb")
        )
        print("\nregistry (what `modelrail registry list` shows):")
        print_listing(registry, model=MODEL)
        for row in registry_snapshot(cloud, [MODEL]):
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(row["metrics"].items()))
            print(f"  {row['model']} v{row['version']}  {row['status']}")
            print(f"    metrics:      {metrics}")
            print(f"    data version: {row['data']['key']} @ {row['data']['versionId']} "
                  f"(sha256 {row['data']['sha256'][:16]}…, {row['data']['rows']} rows)")  # fmt: skip
            print(f"    training job: {row['trainingJob']}  code: {row['codeVersion'][:16]}…")

        version = accepted.registered_version
        assert version is not None
        first = _deployment(cloud, accepted, "the pipeline deployed v1: the endpoint is created")
        if first.outcome != "PRODUCTION":
            return 1
        champion = registry.get_alias(MODEL, AliasName.CHAMPION)
        assert champion is not None
        print(f"  champion: v{champion.version} (moved by compare-and-swap when the endpoint "
              f"served v{version}; alias revision {champion.revision})")  # fmt: skip
        _predict(good, workdir)
        stale = None
        try:
            registry.move_alias(
                MODEL,
                AliasName.CHAMPION,
                to_version=version,
                expected_version=None,
                by="demo",
                reason="stale",
            )
        except StaleAlias as exc:
            stale = exc
        print(f"  a stale promotion is refused: {stale}")
        md, html = write_model_card(registry, MODEL, version, workdir / "cards")
        print(f"  model card: {md} and {html}")

        weak = sample_command(MODEL, 220, 3, workdir / "demand-small.csv")
        challenger = _run(cloud, weak, "a challenger trained on too little data")
        print(f"  {challenger.status} at {challenger.failed_state}: {challenger.message}")
        rejected_version = registry.list_versions(MODEL)[0]
        print(f"  kept in the registry as v{rejected_version.version} {rejected_version.status.value}; "
              f"the champion is still v{registry.get_alias(MODEL, AliasName.CHAMPION).version}")  # type: ignore[union-attr]  # fmt: skip

        if not _canary_demo(cloud, registry, workdir):
            return 1
        if not _concurrent_demo(cloud, registry, workdir):
            return 1
        if not _search_demo(cloud, registry, workdir):
            return 1
        if not monitoring_demo(cloud, registry, workdir):
            return 1
        print("\nthe dev registry at the end (`modelrail registry list`):")
        for model in (MODEL, "churn"):
            print_listing(registry, model=model)
        _print_iam(cloud, "\nIAM on the local cloud")

    _approval_demo(workdir)
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    return 0


def _print_iam(cloud: LocalCloud, label: str) -> None:
    """What the enforcement did: calls authorized as their roles, and any denial."""
    iam = cloud.iam
    roles = len({role for role, _ in iam.used})
    print(f"{label}: {iam.authorized} calls authorized as {roles} roles against the "
          f"synthesized policies and key policy, {len(iam.denials)} denied")  # fmt: skip
    for denial in iam.denials[:3]:
        print(f"    denied: {denial.message}")


def _deployment(cloud: LocalCloud, run: PipelineRun, label: str) -> DeploymentRun:
    """Follow the deployment the training run started, step by step."""
    arn = cloud.deployment_arn_for(run.execution_arn)
    print(f"\n▶ {label}", flush=True)
    t0 = time.monotonic()
    cloud.wait(arn, on_step=_step_printer(t0), timeout=600)  # type: ignore[arg-type]
    deployed = wait_for(arn, sfn=cloud.client("stepfunctions"))
    result = deployed.result or {}
    print(f"  deployment {arn.rsplit(':', 1)[-1]}: {deployed.outcome} "
          f"in {time.monotonic() - t0:.1f}s")  # fmt: skip
    if result.get("message"):
        print(f"  {result['message']}")
    return deployed


def _predict(rows: Path, workdir: Path) -> None:
    features = workdir / "rows.csv"
    pd.read_csv(rows).drop(columns=["units_sold"]).head(2).to_csv(features, index=False)
    print(f"  $ modelrail predict {MODEL} --data {features.name}", flush=True)
    cli_main(["predict", MODEL, "--data", str(features)])


def _canary_demo(cloud: LocalCloud, registry: DynamoDBRegistry, workdir: Path) -> bool:
    """v2 goes out through a canary under traffic; v3 misbehaves and is rolled back."""
    better = sample_command(MODEL, 4000, 11, workdir / "demand-more.csv")
    v2 = _run(cloud, better, "more data: a better challenger")
    if v2.status != "SUCCEEDED":
        print(f"  unexpected failure at {v2.failed_state}: {v2.error}: {v2.message}")
        return False
    with Traffic.from_sample(cloud, MODEL, better, rows=5) as traffic:
        deployed = _deployment(
            cloud, v2, f"canary: {_canary_words(cloud)}, alarms watching, traffic flowing"
        )
    print(f"  {traffic.sent} requests during the rollout, {traffic.failed} failed")
    if deployed.outcome != "PRODUCTION":
        return False
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    print(f"  champion: v{champion.version}; v1 is {registry.get_version(MODEL, 1).status.value}")
    if v2.registered_version is None:
        return False

    # More data again: a tie with v2 would be rejected at the gate (D39), not canaried.
    faulty = sample_command(MODEL, 12000, 13, workdir / "demand-faulty.csv")
    print("\n▶ a version that misbehaves: a significantly better model, uploaded with "
          "--metadata modelrail-fault-error-rate=1 (fault injection, dev only)")  # fmt: skip
    v3 = cloud.upload_and_wait(MODEL, faulty, metadata={"modelrail-fault-error-rate": "1"})
    print(f"  training run {v3.status}: v{v3.registered_version} registered")
    if v3.registered_version is None:
        return False
    with Traffic.from_sample(cloud, MODEL, better, rows=5) as traffic:
        rolled = _deployment(cloud, v3, "its canary: errors → alarm → automatic rollback")
    print(f"  {traffic.sent} requests during the rollout, {traffic.failed} failed (on the canary)")
    result = rolled.result or {}
    live = cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint_name("dev", MODEL))
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    print(f"  alarm: {', '.join(result.get('trippedAlarms') or ['?'])}")
    print(f"  v{v3.registered_version} is "
          f"{registry.get_version(MODEL, v3.registered_version).status.value}; the champion is still "
          f"v{champion.version}; the endpoint serves {live['EndpointConfigName']} "
          f"({live['EndpointStatus']})")  # fmt: skip
    events = [n.get("event") for n in cloud.notifications()[-1:]]
    print(f"  notification: {events[0] if events else '-'}")
    if rolled.outcome != "ROLLED_BACK":
        return False

    print("\n▶ one command rolls the champion back: it redeploys the previous champion "
          "through the same canary", flush=True)  # fmt: skip
    print(f"  $ modelrail registry rollback {MODEL} --reason 'drill'")
    code = registry_main(["registry", "rollback", MODEL, "--reason", "drill"])
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    assert champion is not None
    live = cloud.client("sagemaker").describe_endpoint(EndpointName=endpoint_name("dev", MODEL))
    print(f"  champion: v{champion.version}; the endpoint serves {live['EndpointConfigName']}")
    return code == 0


def _concurrent_demo(cloud: LocalCloud, registry: DynamoDBRegistry, workdir: Path) -> bool:
    """Two uploads at once (D41): one chain of judgements, one champion, nothing undecided."""
    print("\n▶ two uploads at once: each is judged against the version ahead of it, "
          "deployments queue, and no version is left undecided", flush=True)  # fmt: skip
    files = [sample_command(MODEL, rows, seed, workdir / f"demand-at-once-{rows}.csv")
             for rows, seed in ((6000, 31), (9000, 32))]  # fmt: skip
    started = [cloud.upload(MODEL, path) for path in files]
    runs = [cloud.wait(cloud.execution_arn_for(key, version)) for key, version in started]
    for path, run in zip(files, runs, strict=True):
        print(f"  {path.name}: {run.status}")
        _judged(cloud, run, MODEL)
        row = next(
            (r for r in registry_snapshot(cloud, [MODEL]) if r["execution"] == run.execution_arn),
            None,
        )
        deployment = cloud.deployment_of(run, timeout=300)
        if row is not None:
            print(f"    v{row['version']}: deployment {deployment.outcome if deployment else '-'}"
                  f"{f' — {deployment.message}' if deployment and deployment.message else ''}")  # fmt: skip
    champion = registry.get_alias(MODEL, AliasName.CHAMPION)
    undecided = [
        v.version
        for v in registry.list_versions(MODEL)
        if v.status in (VersionStatus.REGISTERED, VersionStatus.APPROVED, VersionStatus.DEPLOYING)
    ]
    print(f"  champion: v{champion.version if champion else '-'}; versions left undecided: "
          f"{undecided or 'none'}")  # fmt: skip
    return champion is not None and not undecided


def _canary_words(cloud: LocalCloud) -> str:
    """The rollout policy as the deployed state machine carries it."""
    definition = json.loads(
        cloud.client("stepfunctions").describe_state_machine(
            stateMachineArn=cloud.output("DeploymentStateMachineArn")
        )["definition"]
    )
    states = definition["States"]
    policy = states["UpdateEndpoint"]["Parameters"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    fleet = states["CreateEndpointConfig"]["Parameters"]["ProductionVariants"][0]
    bake = int(routing["WaitIntervalInSeconds"])
    return (
        f"{routing['CanarySize']['Value']} of {fleet['InitialInstanceCount']} instances on the "
        f"new model, baked {bake} s ({cloud.clock.real_seconds(bake):.0f} s on the local clock), "
        "then the rest"
    )


def _search_demo(cloud: LocalCloud, registry: DynamoDBRegistry, workdir: Path) -> bool:
    """churn's contract asks for a hyperparameter search: a tuning job replaces Train."""
    data = sample_command("churn", 1500, 5, workdir / "churn.csv")
    run = _run(
        cloud, data, "churn asks for a hyperparameter search (contracts/churn.yaml)", "churn"
    )
    if run.status != "SUCCEEDED":
        print(f"  unexpected failure at {run.failed_state}: {run.error}: {run.message}")
        return False
    sm = cloud.client("sagemaker")
    (summary,) = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    tuning = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    metric = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    print(f"  tuning job {tuning['HyperParameterTuningJobName']}: {metric['Type'].lower()} "
          f"{metric['MetricName']} (ranked on a validation split; the gate's holdout stays unseen)")  # fmt: skip
    trials = [
        r for r in cloud.training.runs if r.name.startswith(summary["HyperParameterTuningJobName"])
    ]
    for trial in sorted(trials, key=lambda r: r.name):
        hps = sm.describe_training_job(TrainingJobName=trial.name)["HyperParameters"]
        drawn = ", ".join(
            f"{k}={hps[k]}" for k in ("max_depth", "min_samples_leaf", "learning_rate")
        )
        score = trial.metrics.get(metric["MetricName"])
        print(f"    {'★' if trial.name == best else ' '} {trial.name}  {drawn}  "
              f"{metric['MetricName']}={'-' if score is None else f'{score:.4f}'}")  # fmt: skip
    version = registry.get_version("churn", run.registered_version or 0)
    print(f"  registered churn v{version.version} {version.status.value} from the best trial; "
          f"holdout roc_auc={version.metrics['roc_auc']:.4f}")  # fmt: skip
    return True


def _approval_demo(workdir: Path) -> None:
    """prod waits for a person: the run parks on a task token until `registry approve`."""
    print("\n▶ prod requires approval: the same upload on a modelrail-prod stack")
    data = sample_command(MODEL, 1500, 4, workdir / "demand-prod.csv")
    with LocalCloud(environment="prod") as cloud:
        key, version_id = cloud.upload(MODEL, data)
        arn = cloud.execution_arn_for(key, version_id)
        registry = DynamoDBRegistry(
            cloud.output("RegistryTableName"), client=cloud.client("dynamodb")
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            versions = registry.list_versions(MODEL)
            if versions and versions[0].status is VersionStatus.PENDING_APPROVAL:
                break
            time.sleep(0.1)
        sfn = cloud.client("stepfunctions")
        print(f"  v1 is {registry.get_version(MODEL, 1).status.value}; the run is "
              f"{sfn.describe_execution(executionArn=arn)['status']} at RequestApproval")  # fmt: skip
        print("  $ modelrail registry approve demand 1 --env prod --reason 'reviewed the card'")
        registry_main(
            ["registry", "approve", MODEL, "1", "--env", "prod", "--reason", "reviewed the card"]
        )
        run = cloud.wait(arn, timeout=60)
        print(f"  run {run.status}; v1 is {registry.get_version(MODEL, 1).status.value}")
        deployed = _deployment(cloud, run, "approved, so the pipeline deployed v1 to prod")
        print(f"  v1 is {registry.get_version(MODEL, 1).status.value} in prod ({deployed.outcome})")
