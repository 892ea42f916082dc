"""What the factor perturbations (speed, vtlp) share: reading, checking, spelling and naming a
--copies factor. Not a perturbation itself."""

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


def spell(value: float) -> str:
    """The factor as --copies and config.json write it (0.9, not 0.9000)."""
    return f"{value:g}"


def tagger(kind: str) -> Callable[[float], str]:
    """The name of a copy made with the factor (its speakers are SPEAKER~TAG): speed0.9, vtlp1.1."""
    def tag(value: float) -> str:
        return f"{kind}{value:g}"

    return tag
