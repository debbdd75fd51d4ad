"""CSV injection: what a spreadsheet would run as a formula is neutralised, with `;` locales
in mind, and nothing else is changed."""

import csv
import io

import pytest

from reviewqueue.lib.csv_cells import csv_text, safe_cell


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1",
        "-1+cmd",
        "@SUM(A1)",
        "\tstarts with a tab",
        "\rstarts with a CR",
        # A `;` locale splits these on import: the second half starts a formula.
        'note;=HYPERLINK("http://evil")',
        "a;+1",
        "a;-1",
        "a;@x",
        "a,=1",
        "has a\ttab inside",
        "has a\rCR inside",
    ],
)
def test_text_that_could_run_as_a_formula_gets_a_quote_prefix(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["refund-v7", "wrong_amount", "a; b", "2026-10-01", "a-b=c"])
def test_ordinary_text_is_unchanged(value):
    assert safe_cell(value) == value


def test_numbers_stay_numbers_and_none_is_empty():
    assert safe_cell(-3) == -3
    assert safe_cell(0.25) == 0.25
    assert safe_cell(None) == ""


def test_every_text_cell_is_quoted_and_reads_back():
    text = csv_text([["field", "share"], ["x;=cmd()", 0.5]])
    assert text.splitlines()[1] == '"\'x;=cmd()",0.5'
    assert list(csv.reader(io.StringIO(text)))[1] == ["'x;=cmd()", "0.5"]
