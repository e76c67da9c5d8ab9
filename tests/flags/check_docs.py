#!/usr/bin/env python3
"""The copies of the flag table outside the binary agree with it.

Usage: check_docs.py EXPORTER README.md MANPAGE

- README.md's flag table (between its flags markers) is byte for byte
  what `EXPORTER --help-markdown` prints;
- the man page meson built is what `EXPORTER --help-man` prints, and
  groff formats it without a warning;
- every flag of the Markdown table is in --help and in the man page, and
  --help names no flag the table lacks.
A README that drifted is fixed by pasting `halfopen_exporter --help-markdown`
between its markers."""
import re
import subprocess
import sys


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def main():
    exe, readme, manpage = sys.argv[1:4]
    fails = []
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
    for flag in sorted(table):
        if flag.replace("-", "\\-") not in man:
            fails.append("man page lacks %s" % flag)
    for f in fails:
        print("FAIL:", f)
    print("%d flags; README, --help and the man page agree" % len(table) if not fails else "")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
