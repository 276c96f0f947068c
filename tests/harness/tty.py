"""Run a command with a fresh pseudo-terminal as its controlling terminal, answering prompts.

Why: credhelper asks for secrets and MFA codes on ``/dev/tty`` (botocore captures stdout and
stderr), so only a real controlling terminal exercises those prompts, echo switched off
included. Standard library only; POSIX only.

Note: this module's name shadows the standard library's ``tty`` for any process that puts
``tests/harness`` itself on ``sys.path``; import it as ``harness.tty``.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time
from typing import Mapping, Sequence

__all__ = ["TtyTimeout", "run_with_tty"]


class TtyTimeout(AssertionError):
    """The command did not finish (or a prompt did not appear) in time; has the transcript."""

    def __init__(self, message: str, transcript: str) -> None:
        super().__init__(f"{message}; transcript so far:\n{transcript}")
        self.transcript = transcript


def _make_controlling_terminal() -> None:
    # Runs in the child after setsid() (start_new_session) and after fd 0 became the pty.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_with_tty(
    argv: Sequence[str],
    env: Mapping[str, str],
    answers: Sequence[tuple[str, str]] = (),
    timeout: float = 30.0,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[int, str]:
    """Run ``argv`` on a new pty (stdin, stdout, stderr and ``/dev/tty`` all the terminal).

    ``answers`` are (prompt regex, text) pairs, in order: when the output after the previous
    answer matches the regex, ``text`` and a newline are typed. Returns (exit code, everything
    the terminal showed). What the terminal shows includes what was typed while echo was on,
    and nothing typed while it was off (a hidden prompt). Raises TtyTimeout, after killing the
    command, when it has not exited within ``timeout`` seconds.
    """
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_make_controlling_terminal,
        )
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)  # the child holds it; EOF (EIO) on the master once the child is gone
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    transcript = ""
    searched = 0  # answers look for their prompt after what the previous answer consumed
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                proc.wait()
                raise TtyTimeout(f"{list(argv)} did not finish in {timeout:g} s", transcript)
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: every slave end is closed
                    data = b""
                if not data:
                    break
                transcript += decoder.decode(data)
            while pending:
                match = re.search(pending[0][0], transcript[searched:])
                if match is None:
                    break
                searched += match.end()
                os.write(master, pending.pop(0)[1].encode() + b"\n")
        transcript += decoder.decode(b"", final=True)
        rc = proc.wait(max(deadline - time.monotonic(), 1.0))
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    finally:
        os.close(master)
    return rc, transcript
