"""A griffe extension for the documentation build: the docstrings' reStructuredText markup as
Markdown, so mkdocstrings renders it (the source files are left as they are).

The docstrings follow PyTorch's conventions: Google-style ``Args:`` sections, with RST inside
them. This rewrites, before griffe parses the sections:

* ``.. math::`` blocks (indented or on the directive line) -> ``$$ ... $$`` blocks, which
  ``pymdownx.arithmatex`` turns into MathJax spans; ``:math:`x``` -> ``\\(x\\)``;
* ``:class:`~deeprnn.States``` and the other roles -> a code span (``States``);
* ``>>>`` doctest blocks -> fenced ``pycon`` code blocks;
* a paragraph ending in ``::`` (an RST literal block follows) -> ``:``;
* RST simple tables (``=== ===`` rules) -> Markdown tables.

It also reads docstrings that a class builds at import time from string constants
(``__doc__ = "..." + _ARGS_DOC + "..."``, as ``deeprnn.layers.LSTM`` does), which
static analysis would otherwise leave empty.

Used from mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|data|attr|obj|exc|const):`~?([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(\s*)\.\. math::\s*(.*)$")
_TABLE_RULE = re.compile(r"^(\s*)=+(?: +=+)+\s*$")
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters|Other Parameters):\s*$")
_SECTION_HEADER = re.compile(
    r"^\s*(Args|Arguments|Parameters|Other Parameters|Returns|Yields|Raises|Warns|Examples|"
    r"Attributes|Note|Notes|Warning|Warnings|See Also):\s*$"
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _role(match: re.Match) -> str:
    target = match.group(2)
    tilde = match.group(0).split("`", 1)[1].startswith("~")
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _math_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        pad, inline = m.group(1), m.group(2).strip()
        body = [inline] if inline else []
        i += 1
        base = len(pad)
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            if not lines[i].strip():
                # a blank line ends the block unless more indented math follows
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _indent(lines[j]) > base and body:
                    i = j
                    continue
                break
            body.append(lines[i].strip())
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.extend([f"{pad}$$", *(f"{pad}{b}" for b in body), f"{pad}$$", ""])
    return out


def _doctests(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        pad = " " * _indent(line)
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i][len(pad) :] if lines[i].startswith(pad) else lines[i].strip())
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.extend([f"{pad}```pycon", *(f"{pad}{b}" for b in block), f"{pad}```"])
    return out


def _tables(lines: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _TABLE_RULE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        rule = lines[i]
        spans = [(s.start(), s.end()) for s in re.finditer(r"=+", rule)]
        rows: list[list[str]] = []
        header_done = False
        i += 1
        while i < len(lines):
            if _TABLE_RULE.match(lines[i]):
                i += 1
                if header_done:
                    break
                header_done = True
                rows.append([])  # marks the end of the header
                continue
            if not lines[i].strip():
                break
            text = lines[i]
            cells = []
            for k, (start, _end) in enumerate(spans):
                stop = spans[k + 1][0] if k + 1 < len(spans) else len(text)
                cells.append(text[start:stop].strip())
            rows.append(cells)
            i += 1
        pad = m.group(1)
        if [] in rows:
            cut = rows.index([])
            header, body = rows[:cut], rows[cut + 1 :]
        else:
            header, body = rows[:1], rows[1:]
        head = header[0] if header else [""] * len(spans)
        if out and out[-1].strip():
            out.append("")
        out.append(pad + "| " + " | ".join(head) + " |")
        out.append(pad + "|" + "---|" * len(spans))
        out.extend(pad + "| " + " | ".join(r) + " |" for r in body)
        out.append("")
    return out


def _arg_names(lines: list[str]) -> list[str]:
    """Join an ``Args:`` item whose names run over several lines (``a, b,`` / ``c: text``)
    into one ``a, b, c: text`` line, the form the Google parser reads."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        if not _ARGS_HEADER.match(lines[i]):
            i += 1
            continue
        base = _indent(lines[i])
        i += 1
        item = None
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            line = lines[i]
            if line.strip() and item is None:
                item = _indent(line)
            if (
                line.strip()
                and _indent(line) == item
                and ":" not in line
                and line.rstrip().endswith(",")
                and i + 1 < len(lines)
            ):
                lines[i + 1] = line.rstrip() + " " + lines[i + 1].strip()
                i += 1
                continue
            out.append(line)
            i += 1
    return out


def _blank_before_sections(lines: list[str]) -> list[str]:
    """A Google section header right after a text line gets the blank line the parser needs."""
    out: list[str] = []
    for line in lines:
        if _SECTION_HEADER.match(line) and out and out[-1].strip():
            out.append("")
        out.append(line)
    return out


def rst_to_markdown(text: str) -> str:
    """The Markdown mkdocstrings should see for one docstring."""
    lines = _arg_names(_blank_before_sections(text.split("\n")))
    lines = _math_blocks(lines)
    lines = _tables(lines)
    lines = _doctests(lines)
    fixed = []
    in_fence = False
    for line in lines:
        if line.strip().startswith("```"):
            in_fence = not in_fence
        if not in_fence:
            line = _MATH_ROLE.sub(lambda m: f"\\({m.group(1)}\\)", line)
            line = _ROLE.sub(_role, line)
            if line.rstrip().endswith("::") and not line.rstrip().endswith(":::"):
                stripped = line.rstrip()[:-2].rstrip()
                line = stripped + ":" if stripped else ""
        fixed.append(line)
    return "\n".join(fixed)


def _string_value(node: ast.expr, module: griffe.Object) -> str | None:
    """The value of a string expression made of literals, ``+`` and module-level constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left, module), _string_value(node.right, module)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Name) and node.id in module.members:
        member = module.members[node.id]
        value = getattr(member, "value", None) if not member.is_alias else None
        if value is None:
            return None
        try:
            literal = ast.literal_eval(str(value))
        except (ValueError, SyntaxError):
            return None
        return literal if isinstance(literal, str) else None
    return None


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring's RST markup as Markdown when its object is created."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)

    def on_class_instance(self, *, node: Any, cls: griffe.Class, agent: Any, **kwargs: Any) -> None:
        if cls.docstring is not None or not isinstance(node, ast.ClassDef):
            return
        for stmt in node.body:
            if not isinstance(stmt, ast.Assign):
                continue
            if not any(isinstance(t, ast.Name) and t.id == "__doc__" for t in stmt.targets):
                continue
            text = _string_value(stmt.value, cls.module)
            if text:
                cls.docstring = griffe.Docstring(
                    text,
                    lineno=stmt.lineno,
                    endlineno=stmt.end_lineno,
                    parent=cls,
                    parser=getattr(agent, "docstring_parser", None),
                    parser_options=getattr(agent, "docstring_options", None),
                )
                cls.docstring.value = rst_to_markdown(cls.docstring.value)
            return
