"""Who is on the other end of a Unix socket: the kernel's word, not the peer's.

Both ways, as ssh-agent does: the daemon drops a client of another uid, and the client will
not talk to a listener of another uid. Standard library only (the hot path uses it).
"""

from __future__ import annotations

import socket
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def peer_uid(sock: Any) -> int | None:
    """The connecting process's uid (SO_PEERCRED on Linux, LOCAL_PEERCRED on macOS/BSD)."""
    uid: int
    if sys.platform.startswith("linux"):
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", data)
        return uid
    if sys.platform == "darwin" or "bsd" in sys.platform:
        # struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t groups[16]; }
        sol_local, local_peercred = 0, 0x001
        data = sock.getsockopt(sol_local, local_peercred, 4 + 4 + 2 + 2 + 16 * 4)
        _version, uid = struct.unpack_from("=II", data)
        return uid
    return None
