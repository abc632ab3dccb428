"""Check that served HTML holds only the markup blobpi writes: no tag, attribute or URL
scheme that a hostile value could have smuggled in (shared by the hostile-input tests).

``check_markup(page)`` holds a PEP 503 page to the few elements and attributes it has;
``check_markup(page, strict=False)`` holds a page for people (the status pages) to being
inert: no script, frame or embedded object, no event handler, no ``javascript:`` link."""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["check_markup"]

TAGS = {"html", "head", "meta", "title", "body", "h1", "a", "br", "p", "ul", "li", "code"}
ATTRIBUTES = {
    "href",
    "name",
    "content",
    "data-requires-python",
    "data-yanked",
    "data-core-metadata",
    "data-dist-info-metadata",
    "data-provenance",
}
_SCHEME = re.compile(r"^\s*[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_ACTIVE = {"script", "iframe", "frame", "object", "embed", "svg", "math", "base", "link"}


class _Checker(HTMLParser):
    def __init__(self, strict: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.strict = strict

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE or (self.strict and tag not in TAGS):
            self.problems.append(f"unexpected element <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or (self.strict and name not in ATTRIBUTES):
                self.problems.append(f"unexpected attribute {name}={value!r} on <{tag}>")
            if name == "href" and value is not None and _SCHEME.match(value):
                self.problems.append(f"a link with a scheme: {value!r}")

    def handle_comment(self, data: str) -> None:
        if self.strict:
            self.problems.append(f"a comment: {data!r}")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"a processing instruction: {data!r}")


def check_markup(document: str, strict: bool = True) -> None:
    """Raise ``AssertionError`` naming every piece of markup blobpi would not write."""
    checker = _Checker(strict)
    checker.feed(document)
    checker.close()
    assert not checker.problems, checker.problems
