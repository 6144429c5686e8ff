import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Money


def test_floats_are_refused_with_advice():
    with pytest.raises(TypeError, match=r"Money\.parse"):
        Money(2.5)
    with pytest.raises(TypeError):
        Money(True)


def test_parse_and_format_are_exact():
    assert Money.parse("12.34").minor == 1234
    assert Money.parse("0.5").minor == 50
    assert Money.parse("-3").minor == -300
    assert Money(123456789).format() == "1,234,567.89"
    for bad in ("1.234", "abc", "1,000", ""):
        with pytest.raises(ValueError):
            Money.parse(bad)


def test_currencies_do_not_mix():
    with pytest.raises(ValueError, match="CNY with USD"):
        Money(1) + Money(1, "USD")


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_format_parse_round_trip(minor):
    assert Money.parse(Money(minor).format().replace(",", "")).minor == minor
