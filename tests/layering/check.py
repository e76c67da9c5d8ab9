#!/usr/bin/env python3
"""The layer rule, checked by the compiler (docs/architecture.md, "Layers").

   check.py BUILD_ROOT SOURCE_ROOT

For each layer, takes the exact command line its static library compiles
its own files with (compile_commands.json) and compiles a one-line probe
with it: an #include of a layer above must be refused ("No such file"),
an #include of the layer itself and of the ones below must compile. The
controls make the check able to fail: if the command lines lost their
include roots, the downward probes break; if a layer saw the whole tree
again, the upward ones compile. Also refuses #include "../...", the one
spelling that walks around an include root. Prints one line per probe and
the closing "N passed, N failed".
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

LAYERS = ["common", "config", "collectors", "exporter"]
# One header each layer always has: what an include of that layer names.
HEADER = {
    "common": "common/buf.h",
    "config": "config/config.h",
    "collectors": "collectors/collector.h",
    "exporter": "exporter/http/http.h",
}


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def layer_command(entries, layer):
    """The compile command of one of layer's own library sources."""
    for e in entries:
        rel = os.path.relpath(os.path.join(e["directory"], e["file"]), SOURCE_ROOT)
        if rel.startswith(layer + "/") and rel.endswith(".c") and "/main.c" not in rel:
            args = e.get("arguments") or shlex.split(e["command"])
            return e["directory"], args
    raise CheckFailed(f"compile_commands.json has no source of {layer}/")


def probe_args(args, probe):
    """args with its input and output swapped for probe, syntax only."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.endswith(".c"):
            continue
        out.append(a)
    return out + ["-fsyntax-only", probe]


def compile_probe(cwd, args, layer, header, tmp):
    # The probe sits in the layer's own folder's place: a file name in tmp,
    # compiled with the layer's include path.
    probe = os.path.join(tmp, f"probe_{layer}.c")
    with open(probe, "w") as f:
        f.write(f'#include "{header}"\nint layering_probe(void);\nint layering_probe(void) {{ return 0; }}\n')
    r = subprocess.run(probe_args(args, probe), cwd=cwd, capture_output=True, text=True)
    return r.returncode, r.stderr


def main():
    global SOURCE_ROOT
    build_root, SOURCE_ROOT = sys.argv[1], os.path.realpath(sys.argv[2])
    with open(os.path.join(build_root, "compile_commands.json")) as f:
        entries = json.load(f)
    passed = failed = 0

    def run(name, fn):
        nonlocal passed, failed
        try:
            detail = fn()
            print(f"ok   {name}{': ' + detail if detail else ''}")
            passed += 1
        except CheckFailed as e:
            print(f"FAIL {name}: {e}")
            failed += 1

    for h in HEADER.values():
        check(os.path.isfile(os.path.join(SOURCE_ROOT, h)), f"{h} is gone: update HEADER")
    with tempfile.TemporaryDirectory(prefix="layering.") as tmp:
        for i, layer in enumerate(LAYERS):
            cwd, args = layer_command(entries, layer)
            for j, other in enumerate(LAYERS):
                header = HEADER[other]
                upward = j > i

                def probe(layer=layer, header=header, upward=upward, cwd=cwd, args=args):
                    rc, err = compile_probe(cwd, args, layer, header, tmp)
                    if upward:
                        check(rc != 0, f"{layer}/ compiled #include \"{header}\"")
                        check(re.search(re.escape(header) + r".*No such file", err),
                              f"refused for another reason:\n{err}")
                        return "refused"
                    check(rc == 0, f"{layer}/ could not include \"{header}\":\n{err}")
                    return "compiles"
                run(f"{layer}/ #include \"{header}\" ({'upward' if upward else 'allowed'})", probe)

    def no_dotdot():
        bad = []
        for layer in LAYERS[:-1]:
            for d, _, files in os.walk(os.path.join(SOURCE_ROOT, layer)):
                for name in files:
                    if not name.endswith((".c", ".h")):
                        continue
                    path = os.path.join(d, name)
                    with open(path, encoding="utf-8", errors="replace") as f:
                        for n, line in enumerate(f, 1):
                            if re.match(r'\s*#\s*include\s*"\.\./', line):
                                bad.append(f"{os.path.relpath(path, SOURCE_ROOT)}:{n}")
        check(not bad, "#include \"../...\" steps around the include roots: " + ", ".join(bad))
        return ""
    run('no #include "../..." below exporter/', no_dotdot)

    # The HTTP server is a subsystem behind its public headers (as curl's
    # lib/vtls/): what else is in exporter/http/ is its own.
    public_http = {"http.h", "http_negotiate.h"}
    internal_inc = re.compile(r'\s*#\s*include\s*"(?:exporter/http/)?(http_[a-z_]+\.h|http\.h)"')

    def private_http_headers(lines):
        bad = []
        for where, line in lines:
            m = internal_inc.match(line)
            if m and m.group(1) not in public_http and m.group(1) != "http_client.h":
                bad.append(f"{where} ({m.group(1)})")
        return bad

    def http_internals_stay():
        # Control: the scan must see an internal include when there is one.
        check(private_http_headers([("probe", '#include "exporter/http/http_internal.h"')]),
              "the scan missed a probe's internal include")
        lines = []
        for top in ("exporter", "tests", "collectors", "config", "common"):
            for d, _, files in os.walk(os.path.join(SOURCE_ROOT, top)):
                if os.path.relpath(d, SOURCE_ROOT).startswith(os.path.join("exporter", "http")):
                    continue
                for name in files:
                    if name.endswith((".c", ".h")):
                        path = os.path.join(d, name)
                        with open(path, encoding="utf-8", errors="replace") as f:
                            lines += [(f"{os.path.relpath(path, SOURCE_ROOT)}:{n}", line)
                                      for n, line in enumerate(f, 1)]
        bad = private_http_headers(lines)
        check(not bad, "exporter/http/'s own headers included from outside it: " + ", ".join(bad))
        return "only " + ", ".join(sorted(public_http)) + " from outside"
    run("exporter/http/ is used through http.h and http_negotiate.h only", http_internals_stay)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
