"""Run every benchmark and print one table: ``python -m bench`` (``make bench``).

Each figure is measured in this run, beside its baseline where it has one, and compared
with its target. The machine it ran on is printed first.
"""

import argparse
import os
import platform
import subprocess

from . import bench_http, bench_offline, bench_print, bench_scan, bench_stats


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{platform.node()}: {cpu} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load {load:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller data")
    args = parser.parse_args()
    seconds = 3 if args.quick else 10

    print(machine())
    rows = []
    rows += bench_http.measure(seconds=seconds)
    rows += bench_scan.measure(scans=20)
    rows += bench_offline.measure(count=20_000 if args.quick else 100_000)
    rows += bench_print.measure(count=100 if args.quick else 1000)
    rows += bench_stats.figures(repeat=1 if args.quick else 3)  # data generated once, kept

    width = max(len(row[0]) for row in rows)
    print(f"\n| {'figure':{width}} | {'measured':>28} | {'target':14} | met |")
    print(f"|{'-' * (width + 2)}|{'-' * 30}|{'-' * 16}|-----|")
    for figure, value, target, met in rows:
        print(f"| {figure:{width}} | {value:>28} | {target:14} | {'yes' if met else 'NO':3} |")
    missed = [row[0] for row in rows if not row[3]]
    if missed:
        print(f"\n{len(missed)} figure(s) missed the target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
