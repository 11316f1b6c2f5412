"""A small DOM of an HTML page, from the standard library's tokenizer, for assertions on the HTML report.

The browser test checks what Chromium builds; this one checks the markup itself, in every test run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
SVG_EMPTY = {"line", "polygon", "polyline", "circle", "rect", "path"}  # may close themselves with />


@dataclass
class Node:
    """An element: its tag, attributes (in order, as written), children and text pieces in order."""

    tag: str
    attrs: dict[str, str | None]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """All the text inside, entities decoded, as the page shows it."""
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Node]:
        """This element and every element inside it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        """Elements with `tag` ("*" for any) whose attributes hold every given value (class_ matches a class word)."""
        found = []
        for node in self.iter():
            if tag not in ("*", node.tag):
                continue
            wanted = {k.rstrip("_"): v for k, v in attrs.items()}
            classes = (node.attrs.get("class") or "").split()
            if all((v in classes) if k == "class" else node.attrs.get(k) == v for k, v in wanted.items()):
                found.append(node)
        return found

    def one(self, tag: str, **attrs: str) -> Node:
        """The only element matching (find_all), asserted to be exactly one."""
        [found] = self.find_all(tag, **attrs)
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    """The page's element tree; asserts every element is closed by its own end tag."""
    builder = _Builder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], [n.tag for n in builder.stack]
    return builder.root
