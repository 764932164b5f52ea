"""``make exp``: a DVC experiment that leaves params.yaml as the user wrote it.

``dvc exp run -S key=value`` writes the value into params.yaml and re-emits the whole file with
ruamel.yaml: inline lists become blocks (+89 lines on this project's file) and ``null`` an empty
value; and when the experiment fails, params.yaml stays half-applied (issue 17). This wrapper runs
the same command, then

* on success, writes the new values into the original text: each changed key's value is replaced
  on its own line (flow style, the comment after it kept); a key it cannot place that way (a new
  key, a block value) keeps DVC's version of the file;
* on failure, restores params.yaml byte for byte.

DVC tracks parameters by value, so the rewrite changes nothing DVC sees.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_]+):(?P<rest>.*)$")


def _flow(value: Any) -> str:
    """A value as one line of YAML (lists and mappings in flow style, null as null)."""
    if value is None:
        return "null"
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _split_comment(rest: str) -> tuple[str, str]:
    """``' value   # comment'`` -> (``' value   '``, ``'# comment'``); quotes are respected."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1] in " \t"):
            return rest[:i], rest[i:]
    return rest.rstrip(), ""


def _changed(old: Any, new: Any, prefix: tuple = ()) -> list[tuple[tuple, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in new:
            if key not in old:
                out.append(((*prefix, key), new[key]))
                continue
            out += _changed(old[key], new[key], (*prefix, key))
        return out
    return [] if old == new else [(prefix, new)]


def restyle(original: str, new_values: dict) -> str | None:
    """``original`` with the values of ``new_values`` that differ, placed on their lines; None
    when a change cannot be placed (the caller keeps DVC's file)."""
    old_values = yaml.safe_load(original) or {}
    lines = original.splitlines(keepends=True)
    for path, _ in _changed(old_values, new_values):
        # the deepest key of the path written on a line of its own; its whole (inline) value
        # is rewritten, so a change inside a flow mapping ({1: 0.15, ...}) rewrites the mapping
        for k in range(len(path), 0, -1):
            index = _find(lines, path[:k])
            if index is not None:
                break
        else:
            return None
        m = _KEY.match(lines[index].rstrip("\n"))
        value_text, comment = _split_comment(m.group("rest"))
        if not value_text.strip():  # a block value (mapping or list below the key)
            return None
        value = new_values
        for key in path[:k]:
            value = value[key]
        newline = "\n" if lines[index].endswith("\n") else ""
        field = " " + _flow(value)
        if comment:  # keep the comment's column where the new value leaves room
            field = field.ljust(len(value_text)) if len(field) < len(value_text) else field + "  "
        lines[index] = f"{m.group('indent')}{m.group('key')}:{field}{comment}{newline}"
    text = "".join(lines)
    return text if yaml.safe_load(text) == new_values else None


def _find(lines: list[str], path: tuple) -> int | None:
    """Index of the line holding ``path`` (keys nested by indentation)."""
    depth, indent_stack, start = 0, [-1], 0
    for i in range(start, len(lines)):
        m = _KEY.match(lines[i].rstrip("\n"))
        if not m:
            continue
        indent = len(m.group("indent"))
        while indent_stack and indent <= indent_stack[-1]:
            indent_stack.pop()
            depth -= 1
        if depth < 0:
            return None
        if depth < len(path) and m.group("key") == str(path[depth]):
            if depth == len(path) - 1:
                return i
            indent_stack.append(indent)
            depth += 1
    return None


SET_FLAGS = ("-S", "--set-param")


def quote_overrides(args: list[str]) -> list[str]:
    """``-S key=value`` with a value DVC's Hydra override grammar cannot lex unquoted (non-ASCII
    characters: a Chinese file name, spaces) quoted as ``key='value'``; other arguments as given.
    Without it ``make exp ARGS="-S data.file=data/raw/海关.xlsx"`` fails in Hydra's lexer."""
    out, quote_next = [], False
    for arg in args:
        if quote_next and "=" in arg:
            key, value = arg.split("=", 1)
            plain = value.isascii() and " " not in value
            if not plain and not (value[:1] in "'\"" and value[-1:] == value[:1] and value):
                arg = f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        out.append(arg)
        quote_next = arg in SET_FLAGS
    return out


def run_experiment(args: list[str], params: Path, dvc: str = "dvc") -> int:
    """``dvc exp run ARGS``; params.yaml keeps its layout, or is restored when the run fails."""
    original = params.read_bytes()
    result = subprocess.run([dvc, "exp", "run", *quote_overrides(args)], check=False)
    if result.returncode != 0:
        params.write_bytes(original)
        print(f"{params.name} is as it was before the experiment, which failed (see above)")
        return result.returncode
    written = params.read_text(encoding="utf-8")
    styled = restyle(original.decode("utf-8"), yaml.safe_load(written) or {})
    if styled is not None and styled != written:
        params.write_text(styled, encoding="utf-8")
    return 0
