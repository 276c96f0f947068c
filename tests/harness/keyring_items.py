"""Read the real Secret Service directly, to check what credhelper stored (and didn't)."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

from .daemon import wait_until


@contextlib.contextmanager
def _collection() -> Iterator[object]:
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        yield secretstorage.get_default_collection(conn)
    finally:
        conn.close()


def entries(service: str) -> dict[str, str]:
    """username -> secret of every item keyring stored under ``service``."""
    with _collection() as col:
        return {
            item.get_attributes()["username"]: item.get_secret().decode()
            for item in col.search_items({"service": service})
        }


def lock_default_collection() -> None:
    with _collection() as col:
        col.lock()


def modified(service: str) -> dict[str, int]:
    """username -> the item's modification time (Secret Service: whole seconds)."""
    with _collection() as col:
        return {
            item.get_attributes()["username"]: item.get_modified()
            for item in col.search_items({"service": service})
        }


def wait_past(stamps: dict[str, int], timeout: float = 3.0) -> None:
    """Wait until the clock has passed the whole second of the newest of ``stamps`` (from
    ``modified``): from then on, any write shows as a later time than all of them."""
    newest = max(stamps.values())
    wait_until(
        lambda: time.time() >= newest + 1,
        timeout,
        interval=0.01,
        what=f"the clock to pass {newest}, the newest modification time",
    )
