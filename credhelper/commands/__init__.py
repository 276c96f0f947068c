"""One module per ``credhelper`` subcommand: ``run(args, ctx) -> exit code``.

Each is presentation only: it reads its arguments, asks the library (resolution, stores, the
daemon's client) through the context, and prints. The CLI (:mod:`credhelper.cli`) parses the
arguments, builds the context once and turns a :class:`~credhelper.errors.CredhelperError`
into one line on stderr.
"""
