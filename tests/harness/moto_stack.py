"""A real moto server (own process) behind a recording proxy, seeded with the tutorial's IAM.

Clients under test talk to the proxy (`MotoStack.url`); the harness's own setup talks to moto
directly. moto runs in a child process: `mock_aws` in any unit test would otherwise reset or
patch the backends this server serves (moto keeps its state in module globals).

Findings, moto 5.2.5 in server mode (pinned by tests/e2e/test_harness.py::test_moto_quirks_pinned):

* Enforcement: `POST /moto-api/reset-auth` whose raw body is a number as text ("0", "inf"),
  not JSON and not form-encoded (Flask would eat a form body; moto then 500s on ""). It sets
  settings.INITIAL_NO_AUTH_ACTION_COUNT (env INITIAL_NO_AUTH_ACTION_COUNT, default inf) and
  zeroes the counter of unauthenticated requests; it answers
  {"status": "ok", "PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT": "inf"}. Server-wide and sticky:
  `POST /moto-api/reset` wipes IAM (and so the admin) but leaves enforcement on, after which
  every key is InvalidClientTokenId. So: set up with any key while it is inf, then set 0;
  later setup uses the seed's admin user (`*` on `*`).
* Under enforcement: unknown key -> InvalidClientTokenId (S3: InvalidAccessKeyId); wrong
  secret -> SignatureDoesNotMatch; not allowed -> 403 AccessDenied, message
  "User: <caller arn> is not authorized to perform: sts:AssumeRole" for STS/IAM (the same
  text whether the identity policy or the trust policy said no), "Access Denied" for S3.
  sts:GetCallerIdentity is always allowed.
* Trust principals are compared as exact strings with the caller's ARN. A user is admitted
  by `arn:aws:iam::123456789012:user/NAME`; `...:root` does NOT admit users. A role
  session (chaining A -> B) is `arn:aws:sts::123456789012:assumed-role/A/SESSION`: B must
  trust exactly that (session name included) or "*". Naming the role ARN
  `arn:aws:iam::123456789012:role/A` (as AWS allows), alone or in a list, or a wildcard
  `.../assumed-role/A/*`, is DENIED.
* Conditions: only StringEquals on sts:ExternalId is evaluated. A wrong ExternalId is
  AccessDenied; a MISSING ExternalId is ADMITTED (AWS denies). Other operators (e.g. Bool
  aws:MultiFactorAuthPresent) are ignored, and MFA codes are never checked.
* AssumeRole of a role that does not exist is admitted by the identity policy alone.
  MaxSessionDuration is not enforced; DurationSeconds < 900 is refused only client-side.
  moto never checks a session's expiry (AssumedRoleAccessKey ignores it), so the proxy's
  rewrite_expiration only changes what the client believes.
* GetSessionToken needs an explicit sts:GetSessionToken grant (AWS needs none; the seed adds
  it) and returns the FIXED key AKIAIOSFODNN7EXAMPLE, which moto then rejects
  (InvalidClientTokenId): MFA-session chains only work inside `auth_disabled()`.
* Expiration is ISO 8601 with microseconds and Z, e.g. 2026-11-28T13:54:25.397866Z.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence, Union

from .proxy import StsProxy

__all__ = [
    "ACCOUNT_ID",
    "REGION",
    "S3_FULL_ACCESS_ARN",
    "Creds",
    "MotoStack",
    "Seed",
]

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
S3_FULL_ACCESS_ARN = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
ALL_ROLES_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/*"

_CHILD = Path(__file__).with_name("_moto_server.py")


@dataclass(frozen=True)
class Creds:
    """An AWS key pair, optionally a session; what STS hands out or IAM creates."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: datetime | None = None

    @classmethod
    def from_sts(cls, credentials: dict[str, Any]) -> Creds:
        """Build from the `Credentials` member of an STS response."""
        return cls(
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials.get("SessionToken"),
            credentials.get("Expiration"),
        )

    def boto_kwargs(self) -> dict[str, str | None]:
        """Keyword arguments for boto3.client / boto3.Session."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }

    def env(self) -> dict[str, str]:
        """Environment variables for a subprocess that should use these credentials."""
        out = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            out["AWS_SESSION_TOKEN"] = self.session_token
        return out


@dataclass(frozen=True)
class Seed:
    """What setup_seed() created: the tutorial's user, role and bucket, plus an admin."""

    user_name: str
    user_arn: str
    user_creds: Creds
    role_name: str
    role_arn: str
    bucket: str
    admin_arn: str
    admin_creds: Creds


Principal = Union[str, Sequence[str]]


class MotoStack:
    """moto server in a child process + StsProxy in front of it, on free 127.0.0.1 ports.

    Clients under test talk to `url` (the proxy); harness setup talks to moto directly so it
    is neither counted nor hit by injected faults.
    """

    account_id = ACCOUNT_ID
    region = REGION

    def __init__(self, log_path: Path | None = None) -> None:
        self.log_path = log_path
        self._proc: subprocess.Popen[str] | None = None
        self._log: Any = None
        self._moto_port: int | None = None
        self._proxy: StsProxy | None = None
        self._seed: Seed | None = None
        self._auth = False
        self._session: Any = None
        self._session_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> MotoStack:
        """Start moto (child process) and the proxy; returns self."""
        env = dict(os.environ)
        env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # so AmazonS3FullAccess exists
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)  # enforcement is switched over HTTP
        self._log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [sys.executable, str(_CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip().isdigit():
            self.stop()
            raise RuntimeError(f"moto server did not start (got {line!r}); see {self.log_path}")
        self._moto_port = int(line[0])
        self._proxy = StsProxy(self.moto_url).start()
        return self

    def stop(self) -> None:
        """Stop the proxy and the moto child (closing its stdin ends it)."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()  # type: ignore[union-attr]
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> MotoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def moto_url(self) -> str:
        """moto itself; bypasses the proxy (no counting, no faults)."""
        if self._moto_port is None:
            raise RuntimeError("MotoStack not started")
        return f"http://127.0.0.1:{self._moto_port}"

    @property
    def proxy(self) -> StsProxy:
        """The recording / fault-injecting proxy that clients under test must use."""
        if self._proxy is None:
            raise RuntimeError("MotoStack not started")
        return self._proxy

    @property
    def url(self) -> str:
        """Endpoint URL for clients under test (the proxy)."""
        return self.proxy.url

    @property
    def seed(self) -> Seed:
        """The objects created by setup_seed()."""
        if self._seed is None:
            raise RuntimeError("setup_seed() has not run")
        return self._seed

    # -- moto control API ------------------------------------------------------------

    def _moto_api(self, path: str, data: bytes) -> dict[str, Any]:
        # Not form-encoded: Flask would swallow the body into request.form and moto,
        # which reads request.data, would see an empty string.
        req = urllib.request.Request(
            self.moto_url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def reset_auth(self, free_requests: float) -> float:
        """moto's primitive: enforce after `free_requests` more requests; returns the old value.

        Server-wide and sticky: it stays as set until the next call (or a moto restart).
        """
        previous = self._moto_api("/moto-api/reset-auth", str(free_requests).encode())
        self._auth = free_requests == 0
        return float(previous.get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT", "inf"))

    def enable_auth(self) -> None:
        """Enforce signatures, identity and trust policies from the next request on."""
        self.reset_auth(0)

    def disable_auth(self) -> None:
        """Accept every request again, whatever its credentials."""
        self.reset_auth(float("inf"))

    @property
    def auth_enabled(self) -> bool:
        """Whether this harness last switched enforcement on."""
        return self._auth

    @contextlib.contextmanager
    def auth_disabled(self) -> Iterator[None]:
        """Temporarily accept every request (restores the previous state)."""
        was = self._auth
        self.disable_auth()
        try:
            yield
        finally:
            if was:
                self.enable_auth()

    def reset(self) -> Seed:
        """Wipe all moto state, re-create the seed and re-enable enforcement."""
        self.disable_auth()
        self._moto_api("/moto-api/reset", b"")
        self._seed = None
        self.proxy.clear_faults()
        self.proxy.reset_counts()
        return self.setup_seed()

    # -- clients ---------------------------------------------------------------------

    def client(
        self,
        service: str,
        creds: Creds,
        *,
        direct: bool = False,
        max_attempts: int | None = None,
        **config: Any,
    ) -> Any:
        """A boto3 client with explicit credentials, via the proxy unless `direct`.

        max_attempts=1 turns botocore's retries off, so injected faults reach the caller.
        """
        from botocore.config import Config

        if max_attempts is not None:
            config["retries"] = {"total_max_attempts": max_attempts, "mode": "standard"}
        with self._session_lock:  # one shared session: its model cache makes clients cheap
            if self._session is None:
                import boto3

                self._session = boto3.session.Session(region_name=self.region)
            return self._session.client(
                service,
                endpoint_url=self.moto_url if direct else self.url,
                config=Config(**config),
                **creds.boto_kwargs(),
            )

    def admin(self, service: str) -> Any:
        """A direct (uncounted) client with the admin user's `*:*` credentials."""
        return self.client(service, self.seed.admin_creds, direct=True)

    def _setup_client(self, service: str) -> Any:
        if self._seed is not None:
            return self.admin(service)
        return self.client(service, Creds("testing", "testing"), direct=True)

    # -- fixtures in moto ------------------------------------------------------------

    def create_user(
        self, name: str, policy: dict[str, Any] | None = None, with_key: bool = True
    ) -> tuple[str, Creds | None]:
        """Create an IAM user with an optional inline policy; returns (arn, access key)."""
        iam = self._setup_client("iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        if policy is not None:
            iam.put_user_policy(
                UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
            )
        creds = None
        if with_key:
            key = iam.create_access_key(UserName=name)["AccessKey"]
            creds = Creds(key["AccessKeyId"], key["SecretAccessKey"])
        return arn, creds

    def create_role(
        self,
        name: str,
        trust_principal_arn: Principal,
        external_id: str | None = None,
        permissions: str | None = "s3",
        max_session_duration: int = 3600,
    ) -> str:
        """Create a role trusting `trust_principal_arn` (str, list, or "*"); returns its ARN.

        permissions: "s3" attaches AmazonS3FullAccess, "assume" allows sts:AssumeRole on
        role/* (for chaining), None leaves the role without permissions.
        For a chained role, trust the *assumed-role session* ARN or "*" (see findings above).
        """
        principal: Any = (
            trust_principal_arn
            if isinstance(trust_principal_arn, str)
            else list(trust_principal_arn)
        )
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sts:AssumeRole",
        }
        if external_id is not None:
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
        iam = self._setup_client("iam")
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [statement]}
            ),
            MaxSessionDuration=max_session_duration,
        )["Role"]["Arn"]
        if permissions == "s3":
            iam.attach_role_policy(RoleName=name, PolicyArn=S3_FULL_ACCESS_ARN)
        elif permissions == "assume":
            iam.put_role_policy(
                RoleName=name,
                PolicyName="assume-any-role",
                PolicyDocument=json.dumps(_allow("sts:AssumeRole", ALL_ROLES_ARN)),
            )
        elif permissions is not None:
            raise ValueError(f"unknown permissions {permissions!r}")
        return arn

    def assume_role(
        self,
        creds: Creds,
        role_arn: str,
        session_name: str = "harness",
        external_id: str | None = None,
        duration: int = 900,
        direct: bool = False,
    ) -> Creds:
        """AssumeRole with `creds` (through the proxy unless `direct`); returns the session."""
        kwargs: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": duration,
        }
        if external_id is not None:
            kwargs["ExternalId"] = external_id
        sts = self.client("sts", creds, direct=direct)
        return Creds.from_sts(sts.assume_role(**kwargs)["Credentials"])

    def caller_arn(self, doc: dict[str, Any]) -> str:
        """Who a credential_process document's credentials are (sts:GetCallerIdentity)."""
        creds = Creds(doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("SessionToken"))
        return self.client("sts", creds).get_caller_identity()["Arn"]

    def setup_seed(
        self,
        user_name: str = "user1",
        role_name: str = "s3fullaccess-user1",
        bucket: str = "credhelper-demo-bucket",
        allow_get_session_token: bool = True,
    ) -> Seed:
        """Reproduce the seed tutorial on moto, then switch IAM enforcement on."""
        if self._auth:
            self.disable_auth()
        admin_arn, admin_creds = self.create_user("harness-admin", _allow("*", "*"))
        user_arn, user_creds = self.create_user(user_name, _allow("sts:AssumeRole", ALL_ROLES_ARN))
        assert admin_creds is not None and user_creds is not None
        if allow_get_session_token:  # AWS needs no permission for it; moto does
            self._setup_client("iam").put_user_policy(
                UserName=user_name,
                PolicyName="moto-quirk-get-session-token",
                PolicyDocument=json.dumps(_allow("sts:GetSessionToken", "*")),
            )
        role_arn = self.create_role(role_name, user_arn, permissions="s3")
        s3 = self._setup_client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from the seed\n")
        self._seed = Seed(
            user_name=user_name,
            user_arn=user_arn,
            user_creds=user_creds,
            role_name=role_name,
            role_arn=role_arn,
            bucket=bucket,
            admin_arn=admin_arn,
            admin_creds=admin_creds,
        )
        self.enable_auth()
        return self._seed


def _allow(action: str, resource: str) -> dict[str, Any]:
    """A one-statement identity policy document."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }
