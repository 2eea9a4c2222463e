#!/usr/bin/env python3
"""Heap allocations per request by call site, from two dhat runs.

  dhat_sites.py FEW.dhat MANY.dhat REQUESTS [TOP]

FEW and MANY are valgrind --tool=dhat outputs of the same workload with
N1 and N2 requests; REQUESTS = N2 - N1. Each allocation site's block count
at N1 is subtracted from its count at N2 (start-up and shutdown cancel), and
the sites left with about one or more blocks per request are printed,
heaviest first, with their innermost frames of the project's own code
(names demangled with swift-demangle when it is on PATH).
"""
import json
import shutil
import subprocess
import sys
from collections import defaultdict


def sites(path):
    data = json.load(open(path))
    frames = data["ftbl"]
    out = defaultdict(int)
    for pp in data["pps"]:
        stack = tuple(frames[i] for i in pp["fs"])
        out[stack] += pp["tbk"]   # total blocks ("tb" is bytes)
    return out


def short(frame):
    # "0x1234: symbol (in /path/binary)" -> "symbol"
    text = frame.split(": ", 1)[-1]
    return text.rsplit(" (in ", 1)[0]


def demangle(names):
    tool = shutil.which("swift-demangle")
    if not tool or not names:
        return names
    done = subprocess.run([tool, "--simplified", "--compact"], input="\n".join(names),
                          capture_output=True, text=True)
    lines = done.stdout.splitlines()
    return lines if len(lines) == len(names) else names


def main():
    few, many, requests = sites(sys.argv[1]), sites(sys.argv[2]), int(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 12
    per = []
    for stack, blocks in many.items():
        extra = (blocks - few.get(stack, 0)) / requests
        if extra >= 0.05:
            per.append((extra, stack))
    per.sort(reverse=True)
    total = sum(e for e, _ in per)
    print(f"allocations per request at sites above 0.05: {total:.2f}")
    for extra, stack in per[:top]:
        own = [short(f) for f in stack if "gateway" in f and "libswift" not in f][:4] or [short(stack[0])]
        print(f"{extra:6.2f}  " + "  <-  ".join(demangle(own)))


if __name__ == "__main__":
    main()
