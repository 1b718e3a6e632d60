"""One rule for untrusted text: a string from data is escaped for the sink it goes into.

Group names, attribute values, file names, Commons titles and attribution come from datasets
and the internet. Each sink reads some characters as instructions: Markdown turns ``|`` into
a table column, ``*`` and ``_`` into emphasis and ``![t](url)`` into a remote image;
Matplotlib reads ``$…$`` as mathtext (and bad mathtext raises) and hides legend labels that
start with ``_``; HTML (and Plotly's text, which is HTML-like) reads tags and entities; a
spreadsheet runs ``=…`` as a formula; a terminal or log line is broken by a newline and
recoloured by escape sequences. Every such string goes through the function of its sink here,
once, where it is put into that sink, so the text shows literally and cannot change the
structure around it. Strings the program writes itself (headings, its own mathtext) do not.

All functions first make invisible characters visible (:func:`visible`): control characters,
line and paragraph separators, bidirectional overrides and other characters that print
nothing are written as Python-style escapes (``\\n``, ``\\x1b``, ``\\u202e``), so no sink
receives them raw and a reader sees that they are there.
"""

from __future__ import annotations

import html as _html
import os
import re

#: Characters that open or close an inline Markdown construct anywhere in a line: emphasis
#: (``*`` ``_``), code (`````), links and images (``[`` ``]``; ``![`` needs the ``[``), raw
#: HTML and autolinks (``<`` ``>``), entities (``&``), table cells (``|``), strikethrough
#: (``~``) and the escape itself. CommonMark lets a backslash escape each of them.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
#: What opens a block when it starts a line (or a list item's text): a heading, quote,
#: list item, setext underline or numbered list item.
_MARKDOWN_BLOCK_START = re.compile(r"^([#>+=-]|\d+[.)])")
#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Matplotlib leaves legend entries whose label starts with this out of the legend.
_MPL_HIDDEN_PREFIX = "_"
#: Prefixed to such a label so it is drawn (a zero-width space: DejaVu Sans has its glyph).
ZERO_WIDTH_SPACE = "\u200b"
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    """``\\n``, ``\\x1b``, ``\\u202e`` or ``\\U000e0001``: how Python's repr writes it."""
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: object) -> str:
    """``text`` with every character that is not printable written as an escape.

    Printable is Python's :meth:`str.isprintable` (plus the ASCII space): control characters,
    format characters (bidi overrides, zero-width joiners), separators other than the space,
    surrogates, private-use and unassigned code points are escaped; everything else, backslash
    included, is kept as it is. The result is one line.
    """
    s = str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in s)


def terminal(text: object) -> str:
    """One line for stderr, a log or a plain-text output: nothing in it can start a new line
    or send an escape sequence to the terminal."""
    return visible(text)


def markdown(text: object) -> str:
    """Markdown source that renders as exactly :func:`visible` ``(text)`` wherever it is put
    inline: in a paragraph, a heading, a list item or a table cell (``|`` cannot open a
    column, ``![t](url)`` cannot become an image). Other punctuation is left as it is, so the
    Markdown file stays readable."""
    s = _MARKDOWN_INLINE.sub(r"\\\1", visible(text))
    return _MARKDOWN_BLOCK_START.sub(lambda m: m[1][:-1] + "\\" + m[1][-1], s, count=1)


def mathtext(text: object) -> str:
    """A Matplotlib label that is drawn as :func:`visible` ``(text)``.

    ``$`` is escaped (``\\$``), so the label is never parsed as mathtext, also when the label
    is part of a string that holds the program's own mathtext. A label starting with ``_`` is
    prefixed with a zero-width space, or Matplotlib would leave it out of a legend.
    """
    s = visible(text).replace("$", "\\$")
    return ZERO_WIDTH_SPACE + s if s.startswith(_MPL_HIDDEN_PREFIX) else s


def html(text: object) -> str:
    """Text for HTML, or for Plotly's HTML-like labels (titles, legends, ticks, hover):
    ``<``, ``>``, ``&`` and quotes become entities, so they show instead of acting."""
    return _html.escape(visible(text), quote=True)


def csv_cell(value: object) -> object:
    """A cell for a table people open in a spreadsheet: text that a spreadsheet would run as
    a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) is prefixed with ``'``. Other values
    pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def quote_name(name: str | os.PathLike[str]) -> str:
    """A file or other name for an error message: as it is when it is plain, else quoted.

    Plain is non-empty, printable, without leading or trailing white space. Anything else is
    written in single quotes with Python-style escapes (``'evil\\n0 0 1 1\\n.png'``), so a
    name can neither break the message's one line nor pass for part of the message.
    """
    s = os.fspath(name)
    if isinstance(s, bytes):
        s = os.fsdecode(s)
    if s and s.isprintable() and s == s.strip():
        return s
    inner = visible(s.replace("\\", "\\\\").replace("'", "\\'"))
    return f"'{inner}'"
