"""Tests for webapp.cardnumbers: alphabet, check character, normalizing and display."""

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import cardnumbers
from webapp.cardnumbers import (
    ALPHABET,
    LENGTH,
    check_character,
    format_number,
    is_valid,
    new_number,
    normalize,
)

FAST = settings(max_examples=300, deadline=None, database=None)


def _random_numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        data = "".join(rng.choice(ALPHABET) for _ in range(LENGTH - 1))
        numbers.append(data + check_character(data))
    return numbers


NUMBERS = _random_numbers(300, seed=20240531)


def test_alphabet_has_31_distinct_characters_without_look_alikes():
    assert len(ALPHABET) == 31
    assert len(set(ALPHABET)) == 31
    assert LENGTH == 9
    for look_alike in "01ILO":
        assert look_alike not in ALPHABET
    assert set(ALPHABET) == set("23456789") | (set(string.ascii_uppercase) - set("ILO"))


def test_known_vectors_pin_the_scheme():
    # Hand-computed: K7MX4PQ2 -> 17*9 + 5*8 + 18*7 + 28*6 + 2*5 + 20*4 + 21*3 + 0*2 = 640,
    # 640 % 31 = 20, check value (31 - 20) = 11 = "D".  Other implementations
    # (e.g. client-side validation) must agree with these.
    assert check_character("K7MX4PQ2") == "D"
    assert check_character("22222222") == "2"
    assert check_character("ZZZZZZZZ") == "F"
    assert is_valid("K7MX4PQ2D")
    assert not is_valid("K7MX4PQ2R")


def test_every_check_character_is_reachable():
    # 31 is prime and the last data weight is non-zero, so varying one data
    # character walks through all 31 check characters.
    checks = {check_character("2222222" + c) for c in ALPHABET}
    assert checks == set(ALPHABET)


def test_random_numbers_are_valid():
    assert all(is_valid(number) for number in NUMBERS)


def test_every_single_substitution_is_detected():
    checked = 0
    for number in NUMBERS:
        for position in range(LENGTH):
            for substitute in ALPHABET:
                if substitute == number[position]:
                    continue
                wrong = number[:position] + substitute + number[position + 1 :]
                assert not is_valid(wrong), (number, wrong)
                checked += 1
    assert checked == len(NUMBERS) * LENGTH * (len(ALPHABET) - 1)


def test_every_adjacent_swap_is_detected():
    checked = 0
    for number in NUMBERS:
        for position in range(LENGTH - 1):
            a, b = number[position], number[position + 1]
            if a == b:
                continue
            swapped = number[:position] + b + a + number[position + 2 :]
            assert not is_valid(swapped), (number, swapped)
            checked += 1
    assert checked > len(NUMBERS) * (LENGTH - 1) * 0.9


def test_every_swap_of_any_two_different_characters_is_detected():
    for number in NUMBERS:
        for p in range(LENGTH):
            for q in range(p + 1, LENGTH):
                if number[p] == number[q]:
                    continue
                chars = list(number)
                chars[p], chars[q] = chars[q], chars[p]
                assert not is_valid("".join(chars)), (number, p, q)


def test_single_substitution_is_detected_for_every_pair_of_values_and_position():
    # Stronger than sampling: for the all-"2" number, every position and every
    # pair (original, substitute) of alphabet values, built by fixing the check.
    for position in range(LENGTH - 1):
        for original in ALPHABET:
            data = "2" * position + original + "2" * (LENGTH - 2 - position)
            number = data + check_character(data)
            for substitute in ALPHABET:
                if substitute != original:
                    wrong = number[:position] + substitute + number[position + 1 :]
                    assert not is_valid(wrong)


def test_new_number_is_valid_and_uses_only_the_alphabet():
    numbers = {new_number() for _ in range(2000)}
    assert len(numbers) == 2000  # 31**8 possibilities: a repeat here means broken randomness
    for number in numbers:
        assert len(number) == LENGTH
        assert set(number) <= set(ALPHABET)
        assert is_valid(number)
        assert normalize(number) == number
    # All alphabet characters turn up in the data positions.
    assert set("".join(n[:-1] for n in numbers)) == set(ALPHABET)


def test_new_number_uses_secrets(monkeypatch):
    calls = []

    def fake_choice(seq):
        calls.append(seq)
        return seq[0]

    monkeypatch.setattr(cardnumbers.secrets, "choice", fake_choice)
    assert new_number() == "22222222" + check_character("22222222")
    assert len(calls) == LENGTH - 1


@pytest.mark.parametrize(
    "data",
    ["", "K7MX4PQ", "K7MX4PQ2D", "k7mx4pq2", "K7MX4PQ0", "K7MX4PQI", "K7M X4PQ"],
)
def test_check_character_rejects_bad_data(data):
    with pytest.raises(ValueError):
        check_character(data)


@pytest.mark.parametrize(
    "text",
    [
        "K7MX4PQ2D",
        "k7mx4pq2d",
        "K7M X4P Q2D",
        "k7m-x4p-q2d",
        "K7M.X4P.Q2D",
        "  K7M  x4p\tQ2D\n",
        "K7M\u2013X4P\u2014Q2D",  # en and em dash
        "K7M\u00a0X4P\u202fQ2D",  # no-break spaces
        "K7M\u200bX4P\u00adQ2D",  # zero-width space, soft hyphen
        "K7M_X4P/Q2D",
    ],
)
def test_normalize_tolerates_case_and_separators(text):
    assert normalize(text) == "K7MX4PQ2D"
    assert is_valid(text)


def test_normalize_does_not_validate():
    assert normalize("hello, world") == "HELLOWORLD"
    assert normalize("0O1IL") == "0O1IL"
    assert normalize("") == ""
    assert not is_valid("hello, world")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "K7MX4PQ2",  # too short
        "K7MX4PQ2DD",  # too long
        "K7MX4PQ2D2",
        "K7MX4PQ0D",  # outside the alphabet
        "K7MX4PQOD",
        "K7MX4PQ!D",
        "Ｋ7MX4PQ2D",  # fullwidth K
        "K7MX4PQ2R",  # wrong check character
    ],
)
def test_is_valid_rejects(text):
    assert not is_valid(text)


def test_is_valid_returns_false_for_non_strings():
    for value in (None, 123, b"K7MX4PQ2D", ["K7MX4PQ2D"]):
        assert is_valid(value) is False  # type: ignore[arg-type]


@FAST
@given(st.text())
def test_is_valid_never_raises(text):
    assert is_valid(text) in (True, False)
    assert isinstance(normalize(text), str)
    assert isinstance(format_number(text), str)


@FAST
@given(st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH))
def test_exactly_one_in_31_alphabet_strings_is_valid(text):
    # Validity must be decided by the check character alone.
    assert is_valid(text) == (text[-1] == check_character(text[:-1]))


@pytest.mark.parametrize(
    ("number", "formatted"),
    [
        ("K7MX4PQ2D", "K7M X4P Q2D"),
        ("k7m-x4p-q2d", "K7M X4P Q2D"),
        (" K7M X4P Q2D ", "K7M X4P Q2D"),
        ("", ""),
        ("ABCD", "ABCD"),
        ("K7MX4PQ23R", "K7M X4P Q23R"),
        ("K7MX4PQ232E9RWTM", "K7M X4P Q23 2E9 RWTM"),
        ("ABCDEFG", "ABC DEFG"),
    ],
)
def test_format_number(number, formatted):
    assert format_number(number) == formatted


def test_format_number_round_trips():
    for number in NUMBERS[:50]:
        formatted = format_number(number)
        assert len(formatted) == LENGTH + 2
        assert formatted.count(" ") == 2
        assert normalize(formatted) == number
        assert is_valid(formatted)


# Printed numbers: the number, a version and random characters, covered by a check character.

SECRETS = ["E9RWT", "22222", "ZZZZZ", "K7MX4"]


def test_printed_number_pins_the_scheme():
    assert cardnumbers.printed_number("K7MX4PQ2D", 1) == "K7MX4PQ2D"  # the bare number
    assert cardnumbers.printed_number("K7MX4PQ2D", 2, "E9RWT") == "K7MX4PQ23E9RWT8"
    assert cardnumbers.printed_number("K7MX4PQ2D", 32, "E9RWT") == "K7MX4PQ232E9RWTM"
    assert cardnumbers.parse_printed("k7m-x4p q23 e9r-wt8") == ("K7MX4PQ2D", 2, "E9RWT")
    assert cardnumbers.parse_printed("K7MX4PQ2D") == ("K7MX4PQ2D", 1, None)
    assert format_number("K7MX4PQ23E9RWT8") == "K7M X4P Q23 E9R WT8"


def test_the_new_printed_number_cannot_be_computed_from_the_lost_cards():
    # Two reissues of the same card to the same generation: the printed numbers differ in
    # the random characters, which the lost card does not tell.
    lost = cardnumbers.printed_number("K7MX4PQ2D", 1)
    reissued = {cardnumbers.printed_number(lost, 2, cardnumbers.new_secret()) for _ in range(200)}
    assert len(reissued) == 200
    assert {printed[:9] for printed in reissued} == {"K7MX4PQ23"}  # data and version only
    secrets = {printed[9:14] for printed in reissued}
    assert set("".join(secrets)) == set(ALPHABET)


def test_new_secret_draws_from_secrets(monkeypatch):
    calls = []
    monkeypatch.setattr(cardnumbers.secrets, "choice", lambda seq: calls.append(seq) or seq[-1])
    assert cardnumbers.new_secret() == "Z" * cardnumbers.SECRET_LENGTH
    assert calls == [ALPHABET] * cardnumbers.SECRET_LENGTH


def test_every_generation_has_its_own_printed_number_that_parses_back():
    for number in NUMBERS[:5]:
        for secret in SECRETS[:2]:
            printed = [
                cardnumbers.printed_number(number, g, secret if g > 1 else None)
                for g in range(1, 2000)
            ]
            assert len(set(printed)) == len(printed)  # an older generation's is never current
            for generation, text in enumerate(printed, start=1):
                expected = (number, generation, secret if generation > 1 else None)
                assert cardnumbers.parse_printed(text) == expected
    top = cardnumbers.printed_number(NUMBERS[0], cardnumbers.MAX_GENERATION, "ZZZZZ")
    assert len(top) == cardnumbers.MAX_PRINTED_LENGTH == 21
    assert cardnumbers.parse_printed(top) == (NUMBERS[0], cardnumbers.MAX_GENERATION, "ZZZZZ")
    assert len(cardnumbers.printed_number(NUMBERS[0], 2, "ZZZZZ")) == 15


def test_every_substitution_and_swap_in_a_printed_number_is_detected():
    for number in NUMBERS[:20]:
        for generation in (2, 17, 31, 32, 999, 123_456, cardnumbers.MAX_GENERATION):
            printed = cardnumbers.printed_number(number, generation, SECRETS[generation % 4])
            for position, original in enumerate(printed):
                for char in ALPHABET:
                    if char != original:
                        typo = printed[:position] + char + printed[position + 1 :]
                        assert cardnumbers.parse_printed(typo) is None, typo
            for i in range(len(printed)):
                for j in range(i + 1, len(printed)):
                    if printed[i] != printed[j]:
                        swapped = list(printed)
                        swapped[i], swapped[j] = swapped[j], swapped[i]
                        assert cardnumbers.parse_printed("".join(swapped)) is None


@pytest.mark.parametrize(
    ("typed", "generation", "secret", "shown"),
    [
        (("K7MX4PQ2D", 1, None), 1, None, 1),  # the first card
        (("K7MX4PQ2D", 1, None), 2, "E9RWT", 1),  # the bare number of a reissued card
        (("K7MX4PQ2D", 2, "E9RWT"), 2, "E9RWT", 2),  # the current card
        (("K7MX4PQ2D", 2, "E9RWT"), 3, "ABCDE", 2),  # an older card, whatever its secret
        (("K7MX4PQ2D", 2, "ABCDE"), 3, "ABCDE", 2),
        (("K7MX4PQ2D", 3, "E9RWT"), 3, "ABCDE", None),  # a guess of the secret
        (("K7MX4PQ2D", 3, "ABCDE"), 2, "ABCDE", None),  # a version not issued yet
        (("K7MX4PQ2D", 2, "ABCDE"), 1, None, None),
    ],
)
def test_shown_generation(typed, generation, secret, shown):
    printed = cardnumbers.Printed(*typed)
    assert cardnumbers.shown_generation(printed, generation, secret) == shown


def test_printed_number_refuses_a_leading_zero_version_and_bad_input():
    body = NUMBERS[0][:8] + "2" + "E9RWT"  # version 0: not a printed number
    fake = body + ALPHABET[-cardnumbers._weighted_sum(body, 15) % 31]
    assert cardnumbers.parse_printed(fake) is None
    # What a reissued card showed before it had a secret (data, version, check) is none.
    body = NUMBERS[0][:8] + "3"
    unsecret = body + ALPHABET[-cardnumbers._weighted_sum(body, 10) % 31]
    assert cardnumbers.parse_printed(unsecret) is None
    for bad in ("", "K7MX4PQ2", "K7MX4PQ2D" + "3" * 13, None, 12, "K7MX4PQ2O3R"):
        assert cardnumbers.parse_printed(bad) is None
    for number, generation, secret in (
        ("K7MX4PQ2R", 1, None),
        (NUMBERS[0], 0, None),
        (NUMBERS[0], 2, None),
        (NUMBERS[0], 2, "E9RW"),
        (NUMBERS[0], 2, "E9RW0"),
        (NUMBERS[0], 2, "e9rwt"),
        (NUMBERS[0], 1, "E9RWT"),
    ):
        with pytest.raises(ValueError):
            cardnumbers.printed_number(number, generation, secret)


@FAST
@given(st.text(max_size=30))
def test_parse_printed_never_raises(text):
    parsed = cardnumbers.parse_printed(text)
    if parsed is not None:
        number, generation, secret = parsed
        assert is_valid(number)
        assert cardnumbers.printed_number(number, generation, secret) == normalize(text)


@FAST
@given(st.text(alphabet=ALPHABET, min_size=15, max_size=15))
def test_one_in_31_versioned_strings_parses(text):
    # A 15-character string parses exactly when its check holds and its version is not zero.
    parsed = cardnumbers.parse_printed(text)
    checked = cardnumbers._weighted_sum(text, 15) == 0 and text[8] != ALPHABET[0]
    assert (parsed is not None) == checked
