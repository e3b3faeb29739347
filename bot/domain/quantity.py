"""Kubernetes resource quantities: CPU in cores, memory in bytes, and back to manifest text."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from bot.domain.errors import InvalidInput

_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
# The grammar of resource.Quantity: a number, then either a decimal exponent or a unit suffix.
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$"
)
MI = 2**20


def parse_quantity(value: str | int | float) -> Decimal:
    """Any Kubernetes quantity ("500m", "1.5Gi", "1e3", 2) as an exact decimal."""
    if isinstance(value, bool):
        raise InvalidInput(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise InvalidInput(f"{value!r} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi)")
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number + (exponent or ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise InvalidInput(f"{value!r} is not a Kubernetes quantity") from exc
    return amount * _SUFFIX[suffix or ""]


def parse_cpu(value: str | int | float) -> float:
    """CPU quantity in cores: "500m" -> 0.5, "2" -> 2.0."""
    return float(parse_quantity(value))


def parse_memory(value: str | int | float) -> int:
    """Memory quantity in bytes, rounded up to a whole byte: "1Gi" -> 1073741824."""
    return math.ceil(parse_quantity(value))


def format_cpu(cores: float, milli: bool = False) -> str:
    """Cores as manifest text: 0.75 -> "750m", 2.0 -> "2" (or "2000m" when ``milli``).

    Rounds up to a whole millicore so a raised limit is never written lower than asked."""
    if cores <= 0:
        raise InvalidInput(f"a CPU quantity must be positive, got {cores}")
    millicores = math.ceil(round(cores * 1000, 6))
    if millicores % 1000 == 0 and not milli:
        return str(millicores // 1000)
    return f"{millicores}m"


def format_memory(num_bytes: int | float) -> str:
    """Bytes as the largest exact binary unit, rounded up to a whole Mi: 1.5 GiB -> "1536Mi"."""
    if num_bytes <= 0:
        raise InvalidInput(f"a memory quantity must be positive, got {num_bytes}")
    mebibytes = math.ceil(num_bytes / MI)
    for unit, size in (("Ei", 2**40), ("Pi", 2**30), ("Ti", 2**20), ("Gi", 2**10)):
        if mebibytes % size == 0:
            return f"{mebibytes // size}{unit}"
    return f"{mebibytes}Mi"
