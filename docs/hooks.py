"""A mkdocs hook: the docstrings' Sphinx roles (``:func:`one_hot```, ``:meth:`decode```)
become links to their entries on the API reference page instead of literal text.

A role's name is looked up as the docstring's readers would: in the object being
documented and its parents first (``:meth:`decode``` in ``Codec.encode`` is
``Codec.decode``), then from the package down. A name found nowhere stays code.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|class|meth|attr|mod|data|obj):<code>(~?)([\w.]+)</code>")
ANCHOR = re.compile(r'\bid="(polars_gumbel[\w.]*)"')
FALLBACK = ("polars_gumbel", "polars_gumbel.Codec", "polars_gumbel.metrics")


def resolve(name: str, context: str | None, anchors: set[str]) -> str | None:
    """The anchor that ``name`` refers to, read from inside ``context``."""
    scopes: list[str] = []
    while context:
        scopes.append(context)
        context = context.rpartition(".")[0]
    for scope in [*scopes, *FALLBACK, ""]:
        candidate = f"{scope}.{name}" if scope else name
        if candidate in anchors:
            return candidate
    # A class by its defining module (polars_gumbel.sampling.Sampler) is documented
    # where the package exports it.
    exported = f"polars_gumbel.{name.rpartition('.')[2]}"
    return exported if "." in name and exported in anchors else None


def on_page_content(html: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != "api.md":
        return html
    anchors = [(m.start(), m[1]) for m in ANCHOR.finditer(html)]
    known = {anchor for _, anchor in anchors}

    def link(role: re.Match[str]) -> str:
        tilde, name = role[1], role[2]
        context = next((a for at, a in reversed(anchors) if at < role.start()), None)
        target = resolve(name, context, known)
        shown = name.rpartition(".")[2] if tilde else name
        if target is None:
            return f"<code>{shown}</code>"
        return f'<a href="#{target}"><code>{shown}</code></a>'

    return ROLE.sub(link, html)
