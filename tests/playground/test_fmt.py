"""Numbers as the pages print them: nan and inf spelled out, no negative zero, the same digits in every language."""

import pytest

from playground import fmt, i18n


@pytest.mark.parametrize(
    "value, spec, text",
    [
        (0.123456, ".4f", "0.1235"),
        (-1.5, ".2f", "-1.50"),
        (float("nan"), ".4f", "nan"),
        (float("inf"), ".4f", "inf"),
        (float("-inf"), ".2e", "-inf"),
        (None, ".4f", "—"),
        (3, "g", "3"),
        (1234567.0, ",.0f", "1,234,567"),
        (-1e-20, ".2e", "-1.00e-20"),  # tiny but not zero: the sign is real
    ],
)
def test_number(value, spec, text):
    assert fmt.number(value, spec) == text


@pytest.mark.parametrize(
    "value, spec, text",
    [
        (-0.0, ".4f", "0.0000"),
        (-0.00001, ".2f", "0.00"),
        (-0.004, ".2f", "0.00"),
        (-0.0, ".2e", "0.00e+00"),
        (-0.0, "g", "0"),
        (-0.00001, ".1%", "0.0%"),
        (-0.0000001, ",.3f", "0.000"),
        (-0.000002, "+.5f", "+0.00000"),  # as a positive zero prints: a column of differences stays aligned
        (-0.0, "+.2e", "+0.00e+00"),
        (-0.005001, ".2f", "-0.01"),  # rounds away from zero: the sign stays
        (-0.00001, ".6g", "-1e-05"),
    ],
)
def test_a_value_that_rounds_to_zero_has_no_minus_sign(value, spec, text):
    assert fmt.number(value, spec) == text
    if not text.startswith("-"):
        assert text == format(abs(value), spec)  # exactly what the positive zero looks like


def test_percent():
    assert fmt.percent(0.9753) == "97.53%"
    assert fmt.percent(0.9753, decimals=1) == "97.5%"
    assert fmt.percent(1) == "100.00%"
    assert fmt.percent(float("nan")) == "nan" and fmt.percent(None) == "—"


def test_count():
    assert fmt.count(12345) == "12,345" and fmt.count(0) == "0" and fmt.count(7.9) == "7"


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0 s"),
        (0.4, "0.4 s"),
        (0.02, "0.1 s"),
        (0.96, "1 s"),
        (42, "42 s"),
        (59.6, "1 min 00 s"),
        (185, "3 min 05 s"),
        (3600, "1 h 00 min"),
        (7800, "2 h 10 min"),
        (-3, "0 s"),
        (None, "…"),
        (float("inf"), "…"),
        (float("nan"), "…"),
    ],
)
def test_duration(seconds, text):
    with i18n.using("en"):
        assert fmt.duration(seconds) == text
