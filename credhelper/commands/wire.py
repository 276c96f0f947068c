"""``credhelper wire PROFILE``: add a profile to the AWS config whose credential_process runs
the launcher (``credhelper process PROFILE`` with Python's fastest start, see
:mod:`credhelper.launcher` and :func:`credhelper.config_edit.process_command`); the rest of
the file stays byte for byte."""

from __future__ import annotations

import argparse

from credhelper import config_edit, profiles
from credhelper.context import Context
from credhelper.errors import CredhelperError


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    files = ctx.files

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
    name = args.as_name or f"{profile}-credhelper"
    region = profiles.chain_region(chain, files.profiles)
    action = config_edit.wire(files.config_file, profile, name, region)
    print(
        f"{action} profile '{name}' in {files.config_file}: credential_process runs "
        f"credhelper for '{profile}'. Try: aws sts get-caller-identity --profile {name}"
    )
    return 0
