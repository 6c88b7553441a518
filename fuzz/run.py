"""Coverage-guided fuzzing of linclass's readers with atheris (libFuzzer for Python).

    python fuzz/run.py TARGET [--seconds N]     # one target
    make fuzz FUZZ_SECONDS=60                   # every target, N seconds each

Starts from ``fuzz/corpus/TARGET/`` (the seed corpus in the repository) and writes what it
finds that crashes into ``fuzz/findings/TARGET/``: turn each into a regression file in
``fuzz/corpus/TARGET/`` once fixed (the corpus is replayed by ``make test``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--max-len", type=int, default=65536)
    args, rest = parser.parse_known_args()

    import atheris

    with atheris.instrument_imports(include=["linclass"]):
        from targets import TARGETS, run_one

        import linclass.data
        import linclass.graph
        import linclass.io  # noqa: F401

    if args.target not in TARGETS:
        parser.error(f"no target {args.target!r}; the targets are {', '.join(TARGETS)}")
    findings = HERE / "findings" / args.target
    findings.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"linclass-fuzz-{args.target}-"))
    seeds = HERE / "corpus" / args.target
    for p in seeds.glob("*"):
        shutil.copy(p, work / p.name)

    def one_input(data):
        error = run_one(args.target, data)
        if error is not None:
            traceback.print_exception(error)
            raise error

    argv = [
        sys.argv[0],
        str(work),
        f"-max_total_time={args.seconds}",
        f"-max_len={args.max_len}",
        "-timeout=20",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={findings}{os.sep}",
        "-print_final_stats=1",
        *rest,
    ]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
