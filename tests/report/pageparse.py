"""Reading controls.html back the way a test (or an auditor's script) would: from its DOM."""

from __future__ import annotations

import re
from html.parser import HTMLParser

URL_ATTRIBUTES = {"src", "href", "srcset", "action", "poster", "data", "xlink:href", "formaction"}


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.controls: list[tuple[str, str]] = []  # (id, status) of every control section
        self.urls: list[str] = []  # every URL-valued attribute
        self.tags: list[str] = []
        # change blocks hold no nested <div>: their text is everything up to the next </div>
        self.changes = {kind: re.sub(r"<[^>]+>", " ", body)
                        for kind, body in re.findall(r'<div data-change="([^"]+)">(.*?)</div>', text, re.S)}
        self._text: list[str] = []
        self.feed(text)
        self.css_urls = re.findall(r"url\(([^)]*)\)", text) + re.findall(r"@import\s+([^;]+);", text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "section" and "data-control" in values:
            self.controls.append((values["data-control"], values.get("data-status", "")))
        self.urls.extend(v for k, v in values.items() if k in URL_ATTRIBUTES)
        if "style" in values:
            self.css_urls.extend(re.findall(r"url\(([^)]*)\)", values["style"]))

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    @property
    def text(self) -> str:
        return " ".join(self._text)

    def external_urls(self) -> list[str]:
        """URLs that would make a request: anything but in-page anchors and data: URIs."""
        return [u for u in [*self.urls, *self.css_urls]
                if not u.strip().startswith(("#", "data:")) and u.strip()]
