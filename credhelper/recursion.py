"""How credhelper notices that it runs inside itself (a source profile's credential_process
that runs credhelper again). Standard library only: the hot path reads it.

Two marks travel in the environment of every program credhelper starts for a source: how deep
we are (a chain that loops through other profiles ends after a few levels), and which session
locks our ancestors hold (a chain that needs the very session being fetched fails at once,
instead of waiting on a lock its own parent holds).
"""

#: How deep credhelper runs inside itself; a nested credhelper never asks the daemon.
DEPTH_VAR = "CREDHELPER_DEPTH"
#: The session locks held by the processes that started us, comma-separated.
HELD_VAR = "CREDHELPER_HELD_LOCKS"
