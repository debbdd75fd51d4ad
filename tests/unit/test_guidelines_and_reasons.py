"""Issue 17 #4 without a database: guidelines Markdown is rendered safe, reason codes may be
strings or tables, and every check reads the codes."""

import pytest

from reviewqueue.domain.decision_input import Mode, Target, decision_check
from reviewqueue.domain.reasons import Reason, codes, reasons
from reviewqueue.exceptions import ValidationFailed
from reviewqueue.lib.markdown import REL, guidelines_html, guidelines_version

MIXED = [
    {"code": "wrong_amount", "label": "Wrong amount", "description": "Not what was paid."},
    "other",
    {"code": "dup"},
]


def test_markdown_renders_and_keeps_http_links_with_rel():
    html = guidelines_html("## Rules\n\nAbove **500**: [policy](https://example.com/p).")
    assert "<h2>Rules</h2>" in html and "<strong>500</strong>" in html
    assert f'<a href="https://example.com/p" rel="{REL}">policy</a>' in html
    assert REL == "noopener noreferrer nofollow"


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "hello <img src=x onerror=alert(1)>",
        '<a href="https://e.com" onclick="x()">raw</a>',
        "<iframe src='https://e.com'></iframe>",
    ],
)
def test_raw_html_is_shown_as_text_never_as_markup(text):
    html = guidelines_html(text)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "onclick" not in html.replace("&lt;", "") or "&lt;a" in html
    assert "&lt;" in html  # the text is still there, escaped


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](/admin/)",
        "[x](mailto:a@example.com)",
        "<javascript:alert(1)>",
    ],
)
def test_only_absolute_http_links_keep_an_href(link):
    html = guidelines_html(link)
    assert "href" not in html, html


def test_images_are_dropped_and_tables_kept():
    html = guidelines_html("![pixel](https://t.example/p.gif)\n\n| a |\n|---|\n| 1 |\n")
    assert "<img" not in html and "<table>" in html and "<td>1</td>" in html


def test_rendering_is_cached_by_content_and_blank_is_nothing():
    text = "# Same text"
    assert guidelines_html(text) is guidelines_html(text)
    assert guidelines_html("  \n") == "" and guidelines_version("") == ""
    assert guidelines_version("a") != guidelines_version("b")


def test_reasons_yield_codes_and_labels_from_strings_and_tables():
    assert codes(MIXED) == ["wrong_amount", "other", "dup"]
    assert reasons(MIXED) == [
        Reason("wrong_amount", "Wrong amount", "Not what was paid.", "1"),
        Reason("other", "other", "", "2"),
        Reason("dup", "dup", "", "3"),
    ]
    assert codes(None) == [] and codes([None, 3, {"label": "x"}]) == []


def test_only_the_first_nine_reasons_have_a_key():
    keys = [r.key for r in reasons([f"r{i}" for i in range(11)])]
    assert keys == [str(i) for i in range(1, 10)] + ["", ""]


def test_the_decision_check_accepts_a_code_of_a_table_form_reason():
    target = Target(
        proposal={"amount": 40.0},
        payload_schema={"type": "object"},
        reason_codes=codes(MIXED),
        cosmetic_fields=[],
    )
    checked = decision_check(
        target, mode=Mode.REVIEW, outcome="reject", payload=None, reason_code="wrong_amount",
        comment="",
    )  # fmt: skip
    assert checked.outcome == "reject"
    with pytest.raises(ValidationFailed) as caught:
        decision_check(
            target, mode=Mode.REVIEW, outcome="reject", payload=None,
            reason_code="Wrong amount", comment="",
        )  # fmt: skip
    assert caught.value.errors == {"reason_code": "Must be one of: wrong_amount, other, dup."}
