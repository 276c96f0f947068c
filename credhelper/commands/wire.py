"""``credhelper wire PROFILE``: add a profile to the AWS config whose credential_process runs
the launcher (``credhelper process PROFILE`` with Python's fastest start, see
:mod:`credhelper.launcher` and :func:`credhelper.config_edit.process_command`); the rest of
the file stays byte for byte."""

from __future__ import annotations

import argparse
import logging

from credhelper import config_edit, profiles
from credhelper.context import Context
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    files = ctx.files
    config_edit.check_name(profile, profile=profile, what="profile")
    name = args.as_name if args.as_name is not None else f"{profile}-credhelper"
    config_edit.check_name(name, profile=profile, what="--as name")

    def only_in_keyring(name: str) -> bool:
        # A source may have its keys only in the keyring (credhelper add), in no file at all;
        # the keyring is asked only then, so that wire works (and is quiet) without one.
        return name not in files.profiles and name in ctx.stores.keys.profiles()

    # Validates the whole chain now, not at first use.
    chain = profiles.resolve(profile, files.profiles, has_keys=only_in_keyring)
    if not chain.roles:
        raise CredhelperError(
            "not a role profile (no role_arn)",
            "wire a profile that has role_arn",
            profile=profile,
        )
    region = profiles.chain_region(chain, files.profiles)
    config = files.config_file
    lines = config.read_text("utf-8").splitlines() if config.exists() else []
    settings = config_edit.carried(lines, profile)
    wired = config_edit.wire(config, profile, name, region, settings)
    fresh = f" (afresh from '{profile}': {', '.join(wired.refreshed)})" if wired.refreshed else ""
    print(
        f"{wired.action} profile '{name}' in {files.config_file}{fresh}: credential_process "
        f"runs credhelper for '{profile}'. Try: aws sts get-caller-identity --profile {name}"
    )
    if wired.kept:
        # Lines wire did not write are the user's (or an older wire's, which noted none).
        log.warning(
            "note: [%s] has its own %s, unlike role profile '%s' now; wire leaves the lines it "
            "did not write as they are: to take the role profile's, delete yours and wire again",
            config_edit.section_name(name),
            ", ".join(wired.kept),
            profile,
        )
    return 0
