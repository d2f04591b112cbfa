"""Values made JSON-safe: NumPy scalars as Python numbers, NaN and infinities as null."""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with every nested NumPy scalar unwrapped and non-finite float as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
