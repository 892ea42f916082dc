"""What the factor perturbations (speed, vtlp) share: reading a --copies factor and checking the
FeatureConfig field it sets. Not a perturbation itself."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def parser(valid: tuple[float, float]) -> Callable[[str], float]:
    """--copies KIND:FACTOR -> the factor; a factor of 1 is no copy at all."""
    def parse(text: str) -> float:
        value = float(text)
        if not valid[0] <= value <= valid[1] or value == 1.0:
            raise ValueError(f"give a factor in [{valid[0]:g}, {valid[1]:g}] other than 1")
        return value

    return parse


def checker(field: str, valid: tuple[float, float]) -> Callable[[Any], float]:
    """The FeatureConfig field's value, checked (1 = unchanged) and made a float (it goes into keys)."""
    def check(value: Any) -> float:
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating))
                or not valid[0] <= value <= valid[1]):
            raise ValueError(f"FeatureConfig.{field} must be a factor in [{valid[0]}, {valid[1]}] (1 = unchanged), "
                             f"got {value!r}")
        return float(value)

    return check
