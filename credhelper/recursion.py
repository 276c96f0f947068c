"""How credhelper notices that it runs inside itself (a source profile's credential_process
that runs credhelper again). Standard library only: the hot path reads it.

The one guard: the marks are computed here and put in the environment of each program
credhelper starts (:mod:`credhelper.children`); credhelper's own environment is never changed.

Two marks travel in the environment of every program credhelper starts for a source: how deep
we are (a chain that loops through other profiles ends after a few levels), and which session
locks our ancestors hold (a chain that needs the very session being fetched fails at once,
instead of waiting on a lock its own parent holds).
"""

#: How deep credhelper runs inside itself; a nested credhelper never asks the daemon.
DEPTH_VAR = "CREDHELPER_DEPTH"
#: The session locks held by the processes that started us, comma-separated.
HELD_VAR = "CREDHELPER_HELD_LOCKS"

#: credhelper running inside itself deeper than this is a source_profile loop.
MAX_DEPTH = 4


def depth() -> int:
    """How many credhelper processes started this one (through a source's program)."""
    import os

    raw = os.environ.get(DEPTH_VAR, "0")
    return int(raw) if raw.isascii() and raw.isdigit() else 0


def check() -> None:
    """CredhelperError when credhelper runs itself too deep: a loop through other profiles."""
    if depth() >= MAX_DEPTH:
        from credhelper.errors import CredhelperError

        raise CredhelperError(
            f"credhelper is running itself {depth()} levels deep",
            "a source profile's credential_process leads back to credhelper; fix source_profile",
        )


def child_marks(held: list[str]) -> dict[str, str]:
    """The marks for a program we start: one level deeper (so it never asks the daemon,
    which may be the one waiting for it), and the session locks held on its way."""
    marks = {DEPTH_VAR: str(depth() + 1)}
    if held:
        marks[HELD_VAR] = ",".join(held)
    return marks
