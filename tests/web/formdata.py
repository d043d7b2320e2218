"""What a browser submits for a form on a page: the successful controls of the HTML form, with
the values the page set (checked boxes, the selected option or the first one, input values,
textarea text). Used to check that pages show back exactly what was stored or entered."""

from html.parser import HTMLParser


class _Form(HTMLParser):
    def __init__(self, selector: tuple[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.attr, self.wanted = selector
        self.inside = False
        self.depth = 0
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text: list[str] = []
        self.option_value: str | None = None
        self.option_selected = False
        self.option_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get(self.attr) == self.wanted:
                self.inside = True
            return
        if not self.inside:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind in ("submit", "button") or "name" not in a:
                return
            self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and "name" in a:
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select is not None:
            self.option_value = a.get("value")
            self.option_selected = "selected" in a
            self.option_text = []
        elif tag == "textarea" and "name" in a:
            self.textarea, self.text = a["name"], []

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text.append(data)
        if self.option_value is None and self.select is not None:
            self.option_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "option" and self.select is not None:
            value = (
                self.option_value if self.option_value is not None else "".join(self.option_text)
            )
            self.options.append((value, self.option_selected))
            self.option_value = None
        elif tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.options if selected]
            if chosen or self.options:
                self.fields.append((self.select, chosen[-1] if chosen else self.options[0][0]))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = "".join(self.text)
            self.fields.append((self.textarea, text[1:] if text.startswith("\n") else text))
            self.textarea = None


def submitted(html: str, attr: str, value: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form whose `attr` is `value` would send, in page order."""
    parser = _Form((attr, value))
    parser.feed(html)
    parser.close()
    return parser.fields


def as_form_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out
