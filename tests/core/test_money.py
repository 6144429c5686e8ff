import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import Money


def test_floats_are_refused_with_advice():
    with pytest.raises(TypeError, match=r"^Money takes an integer number of fen, got float 2\.5; convert with "
                                        r"Money\.parse\('12\.34'\) instead of passing floats$"):
        Money(2.5)
    with pytest.raises(TypeError, match="got bool True"):
        Money(True)


def test_an_integral_amount_is_stored_as_a_plain_int():
    class Fen(int):
        pass

    amount = Money(Fen(250))
    assert type(amount.minor) is int
    assert amount == Money(250)


@pytest.mark.parametrize("currency", ["cny", "CN", "CNYY", 156, None])
def test_currency_must_be_an_iso_code(currency):
    with pytest.raises(ValueError, match=r"^currency must be an ISO 4217 code like 'CNY', got "):
        Money(1, currency)


def test_the_default_currency_is_cny_and_another_is_kept():
    assert Money(1).currency == "CNY"
    assert Money(1, "USD").currency == "USD"
    assert Money(1) != Money(1, "USD")
    assert Money.parse("1.00", "USD") == Money(100, "USD")


@pytest.mark.parametrize(("text", "fen"), [
    ("12.34", 1234), ("0.5", 50), ("-3", -300), ("+7.01", 701), (" 12.3 ", 1230), ("12.", 1200), ("-0.05", -5),
    ("0", 0), ("1000000", 100_000_000),
])
def test_parse_is_exact(text, fen):
    assert Money.parse(text) == Money(fen)


@pytest.mark.parametrize("bad", ["1.234", "abc", "1,000", "", ".5", "1.-5", "1.5a", "--1", "+-1", "-+1", "1e3"])
def test_parse_refuses_what_is_not_an_amount_in_yuan(bad):
    with pytest.raises(ValueError, match=r"is not an amount in yuan with at most two decimals, e\.g\. '12\.34'$"):
        Money.parse(bad)


def test_parse_takes_only_text():
    with pytest.raises(TypeError, match=r"^Money\.parse takes a string like '12\.34', got float$"):
        Money.parse(12.34)


@pytest.mark.parametrize(("fen", "text"), [
    (123456789, "1,234,567.89"), (-123456, "-1,234.56"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (0, "0.00"),
])
def test_format_groups_thousands_and_keeps_two_decimals(fen, text):
    assert Money(fen).format() == text


def test_str_names_the_currency():
    assert str(Money(1234)) == "CNY 12.34"
    assert str(Money(-1, "USD")) == "USD -0.01"


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_format_parse_round_trip(minor):
    assert Money.parse(Money(minor).format().replace(",", "")).minor == minor
