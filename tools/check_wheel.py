"""Check repaired wheels: a manylinux tag, and nothing grafted into them.

``python tools/check_wheel.py DIR`` runs ``auditwheel show`` on every wheel in DIR and
fails unless each one is tagged manylinux, needs no shared library beyond those of its
manylinux policy (so ``auditwheel repair`` had nothing to copy in: no ``gradcore.libs/``)
and carries the compiled core.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import zipfile


def check(wheel: pathlib.Path) -> list[str]:
    problems = []
    if "manylinux" not in wheel.name:
        problems.append("no manylinux platform tag in the file name")
    names = zipfile.ZipFile(wheel).namelist()
    if not any(re.fullmatch(r"gradcore/_core\..*\.so", n) for n in names):
        problems.append("no compiled gradcore/_core*.so inside")
    grafted = sorted(n for n in names if n.startswith("gradcore.libs/"))
    if grafted:
        problems.append(f"shared libraries copied in by the repair: {', '.join(grafted)}")
    show = subprocess.run(["auditwheel", "show", str(wheel)], capture_output=True,
                          text=True, check=False)
    print(show.stdout.strip())
    text = " ".join(show.stdout.split())  # auditwheel wraps its lines
    if show.returncode != 0:
        problems.append(f"auditwheel show failed: {show.stderr.strip()}")
    elif "is consistent with the following platform tag: \"manylinux" not in text:
        problems.append("auditwheel show names no manylinux tag it is consistent with")
    if "system-provided shared libraries" not in text and not show.returncode:
        problems.append("auditwheel show lists no system library at all (not a C extension?)")
    return problems


def main(folder: str) -> int:
    wheels = sorted(pathlib.Path(folder).glob("gradcore-*.whl"))
    if not wheels:
        print(f"no gradcore wheel in {folder}", file=sys.stderr)
        return 1
    failed = False
    for wheel in wheels:
        problems = check(wheel)
        for p in problems:
            print(f"{wheel.name}: {p}", file=sys.stderr)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
