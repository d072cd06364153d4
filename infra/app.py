"""The CDK app: one stack per environment from cdk.json, cdk-nag always on.

``cdk synth`` runs this through cdk.json; ``python -m infra.app --out DIR`` synthesizes
without the CDK CLI (what ``make synth``, the tests and the local cloud use).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

# jsii prints a banner about Node 20's end of life on every run; the value names the major.
# Set before aws_cdk is imported, which starts the jsii runtime.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.config import load_environments
from infra.nag import acknowledge_findings
from infra.stack import ModelrailStack

ROOT = Path(__file__).resolve().parent.parent


def stack_name(environment: str) -> str:
    return f"modelrail-{environment}"


def build_app(outdir: str | None = None, environments: list[str] | None = None) -> cdk.App:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=outdir, context=context)
    configs = load_environments(app.node.try_get_context("modelrail:environments"))
    wanted = environments or sorted(configs)
    unknown = sorted(set(wanted) - set(configs))
    if unknown:
        raise SystemExit(f"unknown environment(s) {unknown}; cdk.json defines {sorted(configs)}")
    for name in wanted:
        config = configs[name]
        stack = ModelrailStack(
            app,
            stack_name(name),
            config=config,
            env=cdk.Environment(account=config.account, region=config.region),
            description=f"modelrail {name}: training pipeline, registry and storage",
        )
        stack.acknowledgments = acknowledge_findings(stack)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Synthesize the modelrail CDK app")
    parser.add_argument("--out", default=os.environ.get("CDK_OUTDIR"), help="cloud assembly folder")
    parser.add_argument(
        "--env", action="append", dest="environments", help="environment(s) to synthesize"
    )
    args = parser.parse_args(argv)
    build_app(args.out, args.environments).synth()


if __name__ == "__main__":
    main()
