"""Griffe extension for the API reference: reads larq_hsi's docstrings as the site shows them.

The package writes its docstrings the way Keras and larq do, and mkdocstrings'
Google parser needs three small adjustments, made here at build time so the
package's own text stays as it is:

- a Keras-style `# Arguments` (or `# Returns`, `# Raises`, `# Example`) heading,
  followed by the indented `name: description` lines, becomes the Google section
  (`Args:` ...), so the arguments render as a parameter table;
- display math `\\[ ... \\]` written inside a paragraph gets blank lines around
  it, because pymdownx.arithmatex only recognises display math as a block of
  its own;
- a `|` inside inline math `\\( ... \\)` of a Markdown table row becomes
  `\\vert`, so it does not split the table cell.

It also reads Sphinx-style `#:` comments above a module constant as that
constant's docstring (griffe reads only string literals), shortens the
values of long constants (whole tables) to `...`, and hides the
Keras plumbing methods (`call`, `build`, `get_config`, ...)
that a layer, quantizer or callback overrides without a docstring (they are
the Keras API, documented by Keras), and undocumented instance attributes
(`self.x = x` in `__init__`, which the constructor's arguments document).

Loaded by mkdocs.yml (`extensions:` of the python handler).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import griffe

_SECTIONS = {
    "arguments": "Args:",
    "args": "Args:",
    "returns": "Returns:",
    "raises": "Raises:",
    "example": "Examples:",
    "examples": "Examples:",
}
_KERAS_HEADING = re.compile(r"^(?P<indent>\s*)#\s+(?P<title>[A-Za-z]+)\s*$")
_INLINE_MATH = re.compile(r"\\\((.+?)\\\)")


def _sections(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        match = _KERAS_HEADING.match(line)
        title = match and _SECTIONS.get(match["title"].lower())
        if title:
            if out and out[-1].strip():
                out.append("")
            out.append(match["indent"] + title)
        else:
            out.append(line)
    return out


def _display_math(lines: list[str]) -> list[str]:
    out: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        opens = stripped.startswith("\\[")
        if opens and not inside and out and out[-1].strip():
            out.append("")
        if opens:
            inside = True
        out.append(line)
        if inside and stripped.endswith("\\]"):
            inside = False
            out.append("")
    # Collapse the double blank lines a closing `\]` followed by a blank line leaves.
    cleaned: list[str] = []
    for line in out:
        if not line.strip() and cleaned and not cleaned[-1].strip():
            continue
        cleaned.append(line)
    return cleaned


def _table_math(lines: list[str]) -> list[str]:
    def bar_free(match: re.Match) -> str:
        return "\\(" + match[1].replace("|", "\\vert ") + "\\)"

    return [_INLINE_MATH.sub(bar_free, line) if line.lstrip().startswith("|") else line for line in lines]


def rewrite(text: str) -> str:
    """The docstring `text` with the three adjustments of the module docstring."""
    lines = text.splitlines()
    return "\n".join(_table_math(_display_math(_sections(lines)))).strip("\n")


#: Keras methods that larq_hsi's layers, quantizers and callbacks override (hidden when
#: undocumented in a class with a base class; undocumented dunder methods always are).
KERAS_PLUMBING = frozenset({
    "build", "call", "compute_output_shape", "get_config", "from_config",
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "set_model",
    "update_state", "result", "reset_state", "reset_states", "apply_gradients",
    "get_updates",
})


#: Longer attribute values (whole tables, arrays) are shown as `...`.
MAX_VALUE_LENGTH = 100


@lru_cache(maxsize=None)
def _source_lines(path: str) -> tuple[str, ...]:
    return tuple(Path(path).read_text(encoding="utf-8").splitlines())


def comment_docstring(obj) -> str | None:
    """The `#:` comment block right above `obj`'s first line, without the markers, or None."""
    try:
        lines = _source_lines(str(obj.filepath))
    except (OSError, TypeError, AttributeError):
        return None
    if not obj.lineno:
        return None
    block = []
    index = obj.lineno - 2  # the line above the assignment, 0-based
    while index >= 0 and lines[index].lstrip().startswith("#:"):
        block.append(lines[index].lstrip()[2:].removeprefix(" "))
        index -= 1
    return "\n".join(reversed(block)) if block else None


class KerasDocstrings(griffe.Extension):
    """Rewrites every docstring with `rewrite` as griffe loads it; hides undocumented plumbing."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:  # noqa: ARG002
        if obj.is_attribute:
            if obj.docstring is None:
                text = comment_docstring(obj)
                if text:
                    obj.docstring = griffe.Docstring(text, parent=obj)
            if obj.value is not None and len(str(obj.value)) > MAX_VALUE_LENGTH:
                obj.value = "..."  # a table or an array: the docstring says what it holds
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
        elif obj.is_function and obj.parent is not None and obj.parent.is_class and (
            obj.name.startswith("__") or (obj.name in KERAS_PLUMBING and obj.parent.bases)
        ):
            obj.public = False
        elif (
            obj.is_attribute
            and "instance-attribute" in obj.labels
            and "class-attribute" not in obj.labels
            and "dataclass" not in obj.parent.labels  # a dataclass's fields are its API
        ):
            # `self.x = x` in `__init__`: the constructor's arguments already document it.
            obj.public = False
