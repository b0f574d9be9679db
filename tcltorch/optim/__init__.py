"""Optimizers of the tcltorch engine (pure PyTorch; nothing here imports the Tcl layers)."""

from .adafactor import AUTO_IMPLEMENTATION, IMPLEMENTATIONS, Adafactor

__all__ = ["AUTO_IMPLEMENTATION", "IMPLEMENTATIONS", "Adafactor"]
