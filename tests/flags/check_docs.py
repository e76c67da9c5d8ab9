#!/usr/bin/env python3
"""The copies of the flag table outside the binary agree with it.

Usage: check_docs.py EXPORTER README.md MANPAGE SOURCE_ROOT

- README.md's flag table (between its flags markers) is byte for byte
  what `EXPORTER --help-markdown` prints;
- the man page meson built is what `EXPORTER --help-man` prints, and
  groff formats it without a warning;
- independently of the binary's renderers (which made the README table,
  --help and the man page, so comparing them with each other proves
  nothing about a renderer that drops or garbles a flag): the table is
  read from exporter/flags.c's source here, and the man page must have
  one entry per visible flag and no other, each with its short name, its
  argument (or choices), its help sentence and its default; the README
  table and --help must name exactly the visible flags; mutants of the man
  page (an entry, a default, a short name, a help word lost) must fail.
A README that drifted is fixed by pasting `halfopen_exporter --help-markdown`
between its markers."""
import os
import re
import subprocess
import sys


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def c_strings(text):
    """The concatenation of the C string literals in text."""
    return "".join(bytes(m, "utf-8").decode("unicode_escape")
                   for m in re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def c_macro(root, name):
    """The value of #define name in exporter/, collectors/ or config/ headers
    (their subfolders too: exporter/http/)."""
    for d in ("exporter", "collectors", "config"):
        for sub, _, files in sorted(os.walk(os.path.join(root, d))):
            for f in sorted(files):
                if f.endswith(".h"):
                    m = re.search(r"^#define %s\s+(.+?)\s*(?:/\*.*)?$" % name,
                                  open(os.path.join(sub, f)).read(), re.M)
                    if m:
                        return m.group(1)
    raise ValueError("no #define " + name)


def source_table(root):
    """exporter/flags.c's flags_table, read from the source: one dict per row."""
    text = open(os.path.join(root, "exporter", "flags.c")).read()
    body = re.search(r"flags_table\[\] = \{(.*?)^\};", text, re.S | re.M).group(1)
    rows = []
    for row in re.findall(r"\{(\.name = .*?)\}(?:,|\s*$)", body, re.S):
        fields = {}
        for key, val in re.findall(r"\.(\w+)\s*=\s*(.*?)(?=,\s*\.\w+\s*=|\s*$)", row, re.S):
            val = val.strip()
            if val.startswith('"'):
                fields[key] = c_strings(val)
            elif val.startswith("'"):
                fields[key] = val[1]
            elif re.fullmatch(r"STR\((\w+)\)", val):
                fields[key] = c_macro(root, val[4:-1]).rstrip("uUlL")
            elif re.fullmatch(r"[A-Z_]+", val) and key in ("def", "shown", "arg", "help"):
                fields[key] = c_strings(c_macro(root, val))
            else:
                fields[key] = val
        rows.append(fields)
    return rows


def roff_text(s):
    return s.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def check_man_against_source(man, rows, fails):
    """One .TP entry per visible row of the source table, in its words."""
    entries = {}
    options = man.partition("\n.SH OPTIONS\n")[2].split("\n.SH ")[0]
    for block in options.split("\n.TP\n")[1:]:
        block = block.split("\n.SH")[0]
        head, _, rest = block.partition("\n")
        m = re.match(r"--([a-z0-9.-]+)", roff_text(head))
        if not m:
            fails.append("man page: a .TP entry that names no flag: %r" % head)
            continue
        entries[m.group(1)] = (roff_text(head), " ".join(roff_text(rest).split()))
    visible = [r for r in rows if r.get("hidden") != "true"]
    want = {r["name"] for r in visible}
    if set(entries) != want:
        fails.append("man page entries differ from exporter/flags.c: missing %s, extra %s" % (
            sorted(want - set(entries)), sorted(set(entries) - want)))
    for r in visible:
        if r["name"] not in entries:
            continue
        head, body = entries[r["name"]]
        arg = r.get("arg")
        # A choice flag shows its choices as the argument, or its argument
        # word with the choices in the text.
        if "choices" in r and "=" + r["choices"] not in head and (
                "=%s" % arg not in head or "(%s)" % r["choices"] not in body):
            fails.append("man page --%s: choices %r not shown: %r %r" % (
                r["name"], r["choices"], head, body))
        if "choices" not in r and arg and "=" + arg not in head:
            fails.append("man page --%s: argument %r not in %r" % (r["name"], arg, head))
        if not arg and "=" in head:
            fails.append("man page --%s: takes no argument but shows %r" % (r["name"], head))
        if "short_name" in r and ("-" + r["short_name"]) not in head.split(", ")[1:]:
            fails.append("man page --%s: short name -%s missing" % (r["name"], r["short_name"]))
        if " ".join(r["help"].split()) not in body:
            fails.append("man page --%s: help %r not in %r" % (r["name"], r["help"], body))
        default = r.get("def") or r.get("shown")
        if default and "Default: %s." % default not in body:
            fails.append("man page --%s: 'Default: %s.' not in %r" % (r["name"], default, body))
        if not default and "Default:" in body:
            fails.append("man page --%s: a default the table does not have: %r" % (r["name"], body))
    return len(visible)


def check_mutants_caught(man, rows, fails):
    """The man page check must fail on a page that lost an entry, a default,
    a short name, or a word of a help sentence (what a renderer bug looks like)."""
    first = man.index("\n.TP\n", man.index("\n.SH OPTIONS\n"))
    second = man.index("\n.TP\n", first + 1)
    mutants = {
        "an entry dropped": man[:first] + man[second:],
        "a default changed": man.replace("Default: 15s.", "Default: 10s.", 1),
        "a short name dropped": man.replace(", \\fB\\-n\\fR", "", 1),
        "a help word dropped": man.replace("scrapes never trigger a dump.\n", "scrapes never trigger.\n", 1),
    }
    for what, text in mutants.items():
        if text == man:
            fails.append("mutant %r: anchor not found in the man page" % what)
            continue
        caught = []
        check_man_against_source(text, rows, caught)
        if not caught:
            fails.append("the man page check let a mutant pass: " + what)


def main():
    exe, readme, manpage, root = sys.argv[1:5]
    fails = []
    rows = source_table(root)
    if len(rows) < 15 or any("name" not in r or "help" not in r for r in rows):
        fails.append("exporter/flags.c: read %d rows, some without name or help: the "
                     "reader is broken" % len(rows))
    md = run(exe, "--help-markdown")
    text = open(readme).read()
    m = re.search(r"^<!-- flags:[^\n]*-->\n(.*?)^<!-- end of flags -->$", text, re.S | re.M)
    if not m:
        fails.append("README.md has no flags markers")
    elif m.group(1) != md:
        fails.append("README.md's flag table differs from --help-markdown; paste "
                     "`halfopen_exporter --help-markdown` between the markers")
    man = run(exe, "--help-man")
    if open(manpage).read() != man:
        fails.append("%s differs from --help-man" % manpage)
    n_visible = check_man_against_source(open(manpage).read(), rows, fails)
    check_mutants_caught(open(manpage).read(), rows, fails)
    groff = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=man,
                           capture_output=True, text=True)
    if groff.returncode or groff.stderr.strip():
        fails.append("groff warns about the man page: %s" % groff.stderr.strip())
    help_text = run(exe, "--help")
    table = set(re.findall(r"^\| `(--[a-z.-]+)", md, re.M))
    shown = set(re.findall(r"^  (--[a-z.-]+)", help_text, re.M))
    if len(table) < 15:
        fails.append("only %d flags in the Markdown table" % len(table))
    if table != shown:
        fails.append("--help and the table differ: %s" % sorted(table ^ shown))
    source = {"--" + r["name"] for r in rows if r.get("hidden") != "true"}
    if table != source or len(source) != n_visible:
        fails.append("README's table and exporter/flags.c differ: %s" % sorted(table ^ source))
    for flag in sorted(table):
        if flag.replace("-", "\\-") not in man:
            fails.append("man page lacks %s" % flag)
    for f in fails:
        print("FAIL:", f)
    print("%d flags; README, --help and the man page agree" % len(table) if not fails else "")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
