"""credhelper: assumed-role AWS credentials for every SDK, via ``credential_process``.

Kept import-free on purpose: ``credhelper process`` must start fast.
"""

__version__ = "0.1.0"
