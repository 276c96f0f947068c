"""Desktop notifications (the MFA session is about to end), where a notifier exists."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys

log = logging.getLogger(__name__)


def command(title: str, body: str) -> list[str] | None:
    """The notifier for this desktop, or None."""
    if sys.platform == "darwin" and shutil.which("osascript"):
        quoted = body.replace('"', "'")
        return ["osascript", "-e", f'display notification "{quoted}" with title "{title}"']
    if shutil.which("notify-send"):
        return ["notify-send", "--app-name=credhelper", title, body]
    return None


def notify(title: str, body: str) -> bool:
    """Best effort: True if a notifier accepted it. The caller logs the message anyway."""
    argv = command(title, body)
    if argv is None:
        return False
    try:
        result = subprocess.run(argv, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("notification failed: %s", exc)
        return False
    return result.returncode == 0
