"""How commands show things: one duration format, one table layout (never a secret)."""

from __future__ import annotations

from typing import Any, Sequence


def duration(seconds: Any) -> str:
    """``59m38s`` under an hour, ``1h02m`` above; ``-`` when unknown."""
    if not isinstance(seconds, (int, float)):
        return "-"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}h{m:02d}m" if h else f"{sign}{m}m{s:02d}s"


def table(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def forgotten_note(dropped: list[str]) -> str:
    """``; the daemon forgot 'a', 'b'``: what a running daemon dropped from memory."""
    if not dropped:
        return ""
    return "; the daemon forgot " + ", ".join(f"'{p}'" for p in sorted(set(dropped)))
