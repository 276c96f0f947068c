"""Child-process entry point: run moto's ThreadedMotoServer on 127.0.0.1, port chosen by the OS.

Why a child process: moto keeps its state in module globals. In the test process, any unit
test using `mock_aws` would reset or patch the very backends the server serves. The child
prints its port on stdout and exits when its stdin closes, so it never outlives the tests.
"""

from __future__ import annotations

import logging
import sys


def main() -> None:
    """Start the server, report the port, serve until stdin reaches EOF."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
