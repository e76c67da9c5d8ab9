"""A small, strict YAML subset reader and a writer, Python standard library only.

Enough for the block-style files in grafana/ (Prometheus rule files, the
generated provisioning files): block mappings and sequences, plain scalars,
'single' and "double" quoted scalars, literal (|, |-) and folded (>, >-) block
scalars, comments, and the empty flow collections [] and {}. Scalars stay
strings. Anything else (anchors, tags, multi-document streams, non-empty flow
collections, multi-line plain or quoted scalars) raises YamlError instead of
being misread.
"""

import json
import re

__all__ = ["YamlError", "load", "dump"]


class YamlError(ValueError):
    pass


_KEY_RE = re.compile(r"^([A-Za-z0-9_.\-/]+|'[^']*'|\"[^\"]*\"):(?:\s+|$)")


def _strip_comment(s):
    """Drops a trailing ' # comment' from a plain-scalar line."""
    m = re.search(r"\s#", s)
    return s[: m.start()].rstrip() if m else s.rstrip()


def _scalar(text, lineno):
    t = text.strip()
    if t == "":
        return None
    if t.startswith("'"):
        m = re.match(r"^'((?:[^']|'')*)'\s*(#.*)?$", t)
        if not m:
            raise YamlError(f"line {lineno}: unterminated or multi-line single-quoted scalar")
        return m.group(1).replace("''", "'")
    if t.startswith('"'):
        m = re.match(r'^("(?:[^"\\]|\\.)*")\s*(#.*)?$', t)
        if not m:
            raise YamlError(f"line {lineno}: unterminated or multi-line double-quoted scalar")
        try:
            return json.loads(m.group(1))
        except json.JSONDecodeError as e:
            raise YamlError(f"line {lineno}: unsupported escape in double-quoted scalar: {e}")
    t = _strip_comment(t)
    if t in ("[]",):
        return []
    if t in ("{}",):
        return {}
    if t[0] in "[{&*!%@`|>":
        raise YamlError(f"line {lineno}: unsupported YAML construct: {t[:20]!r}")
    if t.startswith("- ") or t == "-":
        raise YamlError(f"line {lineno}: unexpected sequence entry")
    if ": " in t or t.endswith(":"):
        raise YamlError(f"line {lineno}: ': ' inside a plain scalar; quote it")
    return t


class _Parser:
    def __init__(self, text):
        if "\t" in text:
            raise YamlError("tabs are not supported")
        self.lines = text.split("\n")
        self.i = 0

    def _skip(self):
        while self.i < len(self.lines):
            s = self.lines[self.i].strip()
            if s == "" or s.startswith("#"):
                self.i += 1
                continue
            if s in ("---", "..."):
                raise YamlError(f"line {self.i + 1}: multi-document streams are not supported")
            return True
        return False

    def _indent(self):
        line = self.lines[self.i]
        return len(line) - len(line.lstrip(" "))

    def parse(self):
        if not self._skip():
            return None
        v = self._node(self._indent())
        if self._skip():
            raise YamlError(f"line {self.i + 1}: unexpected content")
        return v

    def _node(self, indent):
        line = self.lines[self.i][indent:]
        if line.startswith("- ") or line == "-":
            return self._seq(indent)
        if _KEY_RE.match(line):
            return self._map(indent)
        v = _scalar(line, self.i + 1)
        self.i += 1
        return v

    def _block_scalar(self, header, parent_indent):
        lineno = self.i + 1
        m = re.match(r"^([|>])([+-]?)\s*(#.*)?$", header)
        if not m:
            raise YamlError(f"line {lineno}: unsupported block scalar header {header!r}")
        style, chomp = m.group(1), m.group(2)
        self.i += 1
        body, block_indent = [], None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() == "":
                body.append("")
                self.i += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if block_indent is None:
                if ind <= parent_indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            body.append(raw[block_indent:])
            self.i += 1
        # Trailing blank lines belong to chomping, not to the next node.
        while body and body[-1] == "":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            out, prev_blank = [], False
            for b in body:
                if b == "":
                    out.append("\n")
                    prev_blank = True
                elif b.startswith(" "):
                    raise YamlError(f"line {lineno}: more-indented lines in folded scalars are not supported")
                else:
                    if out and not prev_blank and out[-1] != "\n":
                        out.append(" ")
                    out.append(b)
                    prev_blank = False
            text = "".join(out)
        if chomp == "-":
            return text
        if chomp == "+":
            raise YamlError(f"line {lineno}: keep chomping (+) is not supported")
        return text + "\n" if text else text

    def _value_after_colon(self, rest, indent):
        """The value of 'key:' whose text after the colon is rest."""
        rest = rest.strip()
        if rest and rest[0] in "|>":
            return self._block_scalar(rest, indent)
        if rest == "" or rest.startswith("#"):
            self.i += 1
            if not self._skip():
                return None
            ind = self._indent()
            line = self.lines[self.i][ind:]
            if ind > indent or (ind == indent and (line.startswith("- ") or line == "-")):
                return self._node(ind)
            return None
        v = _scalar(rest, self.i + 1)
        self.i += 1
        return v

    def _map(self, indent):
        out = {}
        while self._skip():
            ind = self._indent()
            if ind < indent:
                break
            if ind > indent:
                raise YamlError(f"line {self.i + 1}: bad indentation")
            line = self.lines[self.i][indent:]
            m = _KEY_RE.match(line)
            if not m:
                break
            key = m.group(1)
            if key[0] in "'\"":
                key = key[1:-1]
            if key in out:
                raise YamlError(f"line {self.i + 1}: duplicate key {key!r}")
            out[key] = self._value_after_colon(line[m.end():], indent)
        return out

    def _seq(self, indent):
        out = []
        while self._skip():
            ind = self._indent()
            if ind != indent:
                if ind > indent:
                    raise YamlError(f"line {self.i + 1}: bad indentation")
                break
            line = self.lines[self.i][indent:]
            if not (line.startswith("- ") or line == "-"):
                break
            rest = line[1:]
            sub = len(rest) - len(rest.lstrip(" "))
            item = rest.lstrip(" ")
            if item == "" or item.startswith("#"):
                self.i += 1
                self._skip()
                out.append(self._node(self._indent()))
                continue
            # Re-read the item as if it started on its own line at indent+1+sub.
            child = indent + 1 + sub
            self.lines[self.i] = " " * child + item
            out.append(self._node(child))
        return out


def load(text):
    """Parses the supported YAML subset; raises YamlError on anything else."""
    return _Parser(text).parse()


# ---------------------------------------------------------------- writer

_PLAIN_OK = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./ \-]*$")
_RESERVED = {"", "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _quote(s):
    if (_PLAIN_OK.match(s) and s.lower() not in _RESERVED and not s.endswith(" ")
            and not re.match(r"^[0-9.+\-]", s)):
        return s
    return json.dumps(s, ensure_ascii=False)


def _emit(v, indent, out):
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        for k, x in v.items():
            key = _quote(str(k))
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{key}:")
                _emit(x, indent + 2, out)
            elif isinstance(x, str) and "\n" in x:
                out.append(f"{pad}{key}: |" + ("" if x.endswith("\n") else "-"))
                for ln in x.rstrip("\n").split("\n"):
                    out.append((pad + "  " + ln) if ln else "")
            else:
                out.append(f"{pad}{key}: {_scalar_out(x)}")
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, dict) and x:
                sub = []
                _emit(x, indent + 2, sub)
                sub[0] = pad + "- " + sub[0][indent + 2:]
                out.extend(sub)
            elif isinstance(x, list) and x:
                raise YamlError("nested sequences are not supported by the writer")
            else:
                out.append(f"{pad}- {_scalar_out(x)}")
    else:
        raise YamlError("top level must be a mapping or a sequence")


def _scalar_out(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        return json.dumps(x)
    if x is None:
        return "null"
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    return _quote(x)


def dump(v):
    """Block-style YAML for dicts/lists of str/int/float/bool/None."""
    out = []
    _emit(v, 0, out)
    return "\n".join(out) + "\n"
