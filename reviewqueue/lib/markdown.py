"""A queue's guidelines: Markdown written by an admin, shown to reviewers as HTML.

Rendered by markdown-it-py (CommonMark plus tables and strikethrough) with raw HTML off, then
sanitised by nh3 (an allow-list of tags, absolute http(s) links only, `rel="noopener noreferrer
nofollow"` on every link): what leaves here is the only HTML the templates mark safe.

Cached per process by the text itself: an edit is a different key, so nothing can go stale;
the cache only saves re-rendering the same guidelines on every review page.
"""

import hashlib
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https"}
REL = "noopener noreferrer nofollow"

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


@lru_cache(maxsize=128)
def guidelines_html(text: str) -> str:
    """Sanitised HTML of Markdown `text` ("" for blank text)."""
    if not text.strip():
        return ""
    return nh3.clean(
        _md.render(text),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative="deny",
        link_rel=REL,
    )


@lru_cache(maxsize=128)
def guidelines_version(text: str) -> str:
    """A short hash of the text: the page forgets a reviewer's "collapsed" when it changes."""
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text.strip() else ""
