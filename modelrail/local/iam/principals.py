"""Who is calling: credentials for the roles the local cloud acts as.

On AWS a Lambda function calls with its execution role's session, a state machine's tasks
with the state machine's role, a training job and an endpoint with their execution roles,
and a service (CloudWatch Logs, CloudWatch alarms, EventBridge) as its service principal.
The local cloud hands each executor credentials whose access key id names the role, so
the authorizer (:mod:`.enforce`) can tell, for every request it receives in process or
over loopback, which principal made it. Unknown access keys are the operator: the person
running the CLI, the demo or a test, who is an administrator of the account.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

# AWS access key ids are 20 characters of [A-Z0-9]; temporary ones start with ASIA.
_PREFIX = "ASIA"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# The access key moto's Step Functions interpreter signs with when nothing says whose
# execution a call belongs to (see interpreter_credentials): a call with it is denied.
INTERPRETER_DEFAULT_KEY = "ak"


def session_arn(role_arn: str, session: str) -> str:
    """The assumed-role session ARN a role's credentials present (what AWS logs and
    what AccessDenied messages name)."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/{session}"


def role_of(principal: str) -> str:
    """The role ARN behind an assumed-role session ARN (other ARNs unchanged)."""
    parts = principal.split(":")
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        name = parts[5].split("/")[1]
        return f"arn:aws:iam::{parts[4]}:role/{name}"
    return principal


@dataclass(frozen=True)
class Principal:
    role_arn: str
    session: str

    @property
    def arn(self) -> str:
        return session_arn(self.role_arn, self.session)


# One registry and one current principal per process: two local clouds in one process
# (dev and prod side by side) share moto's backends, and each one's seams wrap the
# other's, so any of them must recognise the keys the others minted.
_BY_KEY: dict[str, Principal] = {}
_LOCK = threading.Lock()
# A context variable, not a thread-local: the interpreter evaluates each state on
# threads of its own, which are started with a copy of the execution's context.
_CURRENT: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "modelrail_principal", default=None
)


@dataclass
class Principals:
    """Access key id <-> role session, minted deterministically per (role, session)."""

    def credentials(self, role_arn: str, session: str = "modelrail-local") -> dict[str, str]:
        """Environment-style credentials for ``role_arn`` (a worker's or a client's)."""
        digest = hashlib.sha256(f"{role_arn}\0{session}".encode()).digest()
        body = "".join(_ALPHABET[b % 32] for b in digest[:16])
        key = _PREFIX + body
        with _LOCK:
            _BY_KEY[key] = Principal(role_arn, session)
        return {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": "local-" + body.lower(),
            "AWS_SESSION_TOKEN": "local-session-" + body.lower(),
        }

    def client_kwargs(self, role_arn: str, session: str = "modelrail-local") -> dict[str, str]:
        """The same credentials as boto3 client keyword arguments."""
        creds = self.credentials(role_arn, session)
        return {
            "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
            "aws_session_token": creds["AWS_SESSION_TOKEN"],
        }

    def lookup(self, access_key: str) -> Principal | None:
        return _BY_KEY.get(access_key)

    def known(self) -> Mapping[str, Principal]:
        return dict(_BY_KEY)

    # ---- the role a Step Functions execution's tasks run as --------------------------
    @contextmanager
    def acting_as(self, role_arn: str, session: str) -> Iterator[None]:
        """Calls made in this context (and threads started with a copy of it) belong to
        ``role_arn``."""
        token = _CURRENT.set(Principal(role_arn, session))
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def current(self) -> Principal | None:
        return _CURRENT.get()
