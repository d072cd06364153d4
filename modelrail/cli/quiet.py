"""Keep library chatter out of the user's terminal."""

from __future__ import annotations

import logging
import warnings


def quiet() -> None:
    """Silence moto's CloudFormation warnings and library logs below ERROR."""
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    for name in ("moto", "botocore", "aws_lambda_powertools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # moto's interpreter logs every failed state at ERROR; the run report says it better.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
