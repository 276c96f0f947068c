"""How commands show things: one duration format, one time format, one table layout (never
a secret). Tables fit :data:`WIDTH` columns unless asked to be wide."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

#: The width a default table fits (``--wide`` shows every column, whatever its width).
WIDTH = 100


def duration(seconds: Any) -> str:
    """``59m38s`` under an hour, ``1h02m`` above; ``-`` when unknown."""
    if not isinstance(seconds, (int, float)):
        return "-"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}h{m:02d}m" if h else f"{sign}{m}m{s:02d}s"


def local_time(utc: Any) -> str:
    """``Nov 28 15:03 CET``: a UTC ISO time (``...Z`` or with an offset) in this machine's
    zone, to the minute, with the zone's name (no year: sessions last hours); ``-`` when
    unknown. JSON keeps UTC."""
    if not isinstance(utc, str) or not utc:
        return "-"
    try:
        when = datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return utc
    if when.tzinfo is None:
        return utc
    return when.astimezone().strftime("%b %d %H:%M %Z")


def role_name(arn: Any) -> str:
    """``admin`` of ``arn:aws:iam::123456789012:role/admin`` (paths dropped); ``-`` if none."""
    if not isinstance(arn, str) or not arn:
        return "-"
    if ":role/" in arn:
        return arn.rsplit("/", 1)[-1]
    return arn


def table(rows: Sequence[Sequence[Any]], width: int | None = None) -> list[str]:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks. With
    ``width``, the last column's cells are shortened (at a word, with ``...``) so that every
    line fits, as long as that column keeps at least 12 characters."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    if width is not None and len(widths) > 1:
        room = width - sum(w + 2 for w in widths[:-1])
        if widths[-1] > room >= 12:
            for row in cells:
                row[-1] = shorten(row[-1], room)
            widths[-1] = room
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def shorten(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters: cut at a word, ``...`` added when cut."""
    if len(text) <= room:
        return text
    cut = text[: room - 3]
    if " " in cut and text[room - 3] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "..."


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def forgotten_note(dropped: list[str]) -> str:
    """``; the daemon forgot 'a', 'b'``: what a running daemon dropped from memory."""
    if not dropped:
        return ""
    return "; the daemon forgot " + ", ".join(f"'{p}'" for p in sorted(set(dropped)))
