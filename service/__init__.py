"""OS service definitions for ``credhelper daemon``, shipped as ``credhelper.service_files``.

A regular package (not a bare folder) so ``importlib.resources`` finds the templates on
Python 3.9, from a wheel and from an editable install alike.
"""
