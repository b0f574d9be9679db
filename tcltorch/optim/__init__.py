"""Optimizers of the tcltorch engine (pure PyTorch; nothing here imports the Tcl layers)."""

from .adafactor import AUTO_IMPLEMENTATION, IMPLEMENTATIONS, Adafactor
from .state_checks import check_optimizer_state

__all__ = ["AUTO_IMPLEMENTATION", "IMPLEMENTATIONS", "Adafactor", "check_optimizer_state"]
