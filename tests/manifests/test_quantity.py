from __future__ import annotations

import pytest

from bot.domain.errors import InvalidInput
from bot.domain.quantity import format_cpu, format_memory, parse_cpu, parse_memory


@pytest.mark.parametrize(
    ("text", "cores"),
    [("500m", 0.5), ("2", 2.0), (2, 2.0), ("0.25", 0.25), ("1500m", 1.5), ("100u", 0.0001)],
)
def test_parse_cpu(text: str | int, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "num_bytes"),
    [
        ("1Gi", 2**30),
        ("512Mi", 512 * 2**20),
        ("64Ki", 65536),
        ("1Ti", 2**40),
        ("1k", 1000),
        ("129M", 129_000_000),
        ("1G", 10**9),
        ("2T", 2 * 10**12),
        ("129e6", 129_000_000),
        ("1E3", 1000),
        ("1E", 10**18),
        ("128974848", 128974848),
        (1024, 1024),
        ("1.5Gi", 3 * 2**29),
    ],
)
def test_parse_memory(text: str | int, num_bytes: int) -> None:
    assert parse_memory(text) == num_bytes


def test_format_cpu() -> None:
    assert format_cpu(0.75) == "750m"
    assert format_cpu(2.0) == "2"
    assert format_cpu(2.0, milli=True) == "2000m"
    assert format_cpu(3.391) == "3391m"
    assert format_cpu(0.0005) == "1m"  # rounds up: never below what was asked


def test_format_memory_largest_exact_binary_unit() -> None:
    assert format_memory(1.5 * 2**30) == "1536Mi"
    assert format_memory(2**30) == "1Gi"
    assert format_memory(2 * 2**40) == "2Ti"
    assert format_memory(1288490188) == "1229Mi"  # rounded up to a whole Mi
    assert parse_memory(format_memory(1288490188)) >= 1288490188


@pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "5 Gi", "1Mb", "-"])
def test_bad_quantities_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_memory(bad)
    with pytest.raises(InvalidInput):
        parse_cpu(bad)
