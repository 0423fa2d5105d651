"""MkDocs hook: the docstrings' Sphinx roles (``:class:`~datapredict.x.Y```) as links.

The docstrings are numpydoc, written to read well in ``help()`` too, and name objects
with Sphinx roles. Rendered as Markdown, a role is left as ``:class:`` before the code
span; this hook turns it into an optional cross-reference that mkdocs-autorefs resolves
to the object's page when the API reference renders the object, and otherwise leaves as
plain code (``~`` shows the last component only, as in Sphinx).
"""

from __future__ import annotations

import html
import re

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _reference(match: re.Match) -> str:
    short, target = match.groups()
    target = html.unescape(target).strip()
    shown = target.rsplit(".", 1)[-1] if short else target
    return (
        f'<autoref identifier="{html.escape(target)}" optional>'
        f"<code>{html.escape(shown)}</code></autoref>"
    )


def on_page_content(content: str, **kwargs) -> str:
    """Replace every role before a code span by an optional cross-reference."""
    return ROLE.sub(_reference, content)
