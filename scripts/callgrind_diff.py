#!/usr/bin/env python3
"""Self instructions per request by function, from two callgrind runs of the
same workload with N1 and N2 requests: (count at N2 - count at N1) / (N2 - N1),
so start-up and shutdown cancel out (for scripts/profile.sh PROFILE_TOP=K).

    callgrind_diff.py RUN_N1.cg RUN_N2.cg REQUESTS TOP
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([0-9,]+)\s+(?:\([^)]*\)\s+)?(.*)$")


def self_costs(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", path],
                         capture_output=True, text=True, check=True).stdout
    costs, started = {}, False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        if not started:
            continue
        m = LINE.match(line)
        if m:
            name = m.group(2).strip()
            name = name.split(" [", 1)[0]
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def short(name):
    fn = name.split(":", 1)[-1] if ":" in name else name
    try:
        fn = subprocess.run(["swift", "demangle", "--simplified", "--compact", fn],
                            capture_output=True, text=True, timeout=10).stdout.strip() or fn
    except (OSError, subprocess.TimeoutExpired):
        pass
    return fn[:110]


def main():
    a, b = self_costs(sys.argv[1]), self_costs(sys.argv[2])
    n, top = int(sys.argv[3]), int(sys.argv[4])
    per = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}
    total = sum(per.values())
    print(f"| self instructions per request | share | function |\n| ---: | ---: | --- |")
    for name, cost in sorted(per.items(), key=lambda kv: -kv[1])[:top]:
        print(f"| {cost:,.0f} | {100 * cost / total:.1f}% | `{short(name)}` |")
    print(f"| {total:,.0f} | 100% | all |")


if __name__ == "__main__":
    main()
