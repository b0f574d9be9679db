"""``python -m tcltorch``: the ``tcltorch`` command (see :mod:`tcltorch.cli`)."""

from tcltorch.cli import run

run()
