#!/usr/bin/env python3
"""Size limits of the non-test Rust code: no file over 600 lines, no function over 80.

A newcomer reads a file or a function in one sitting only when it is short; the limits keep
the house that way. Tests, benches and the demo's story (a script read top to bottom) are
exempt. Run from the repository root: `python3 .ci/limits.py`; exit 1 lists what is over.
"""

import re
import subprocess
import sys

MAX_FILE_LINES = 600
MAX_FN_LINES = 80
# Functions that are scripts rather than logic, read top to bottom.
EXEMPT_FUNCTIONS = {("cli/src/commands/demo.rs", "story")}


def is_test_file(path):
    parts = path.split("/")
    return (
        "tests" in parts[:-1]
        or "benches" in parts[:-1]
        or parts[-1] in ("tests.rs",)
        or parts[-1].endswith("_tests.rs")
    )


def blank_out_literals(text):
    """Replaces comments, strings and char literals by spaces, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif re.match(r'b?r#*"', text[i:i + 40]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i:j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * m.end())
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


FN_RE = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def long_functions(path, text):
    """Yields (name, lines) of each function body longer than the limit, outside test modules."""
    code = blank_out_literals(text)
    lines = code.split("\n")
    # Everything after `#[cfg(test)]` at the top level is a test module by this project's layout.
    for index, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            lines = lines[:index]
            break
    code = "\n".join(lines)
    for m in FN_RE.finditer(code):
        start = m.end()
        brace = code.find("{", start)
        semi = code.find(";", start)
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body
        depth, j = 0, brace
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, j) + 1
        if last - first + 1 > MAX_FN_LINES and (path, m.group(1)) not in EXEMPT_FUNCTIONS:
            yield m.group(1), last - first + 1


def main():
    files = subprocess.run(
        ["git", "ls-files", "*.rs"], check=True, capture_output=True, text=True
    ).stdout.split()
    over = []
    for path in files:
        if is_test_file(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        count = text.count("\n")
        if count > MAX_FILE_LINES:
            over.append(f"{path}: {count} lines (limit {MAX_FILE_LINES})")
        for name, length in long_functions(path, text):
            over.append(f"{path}: fn {name} has {length} lines (limit {MAX_FN_LINES})")
    for line in over:
        print(line)
    if over:
        return 1
    print(f"size limits hold: files <= {MAX_FILE_LINES} lines, functions <= {MAX_FN_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
