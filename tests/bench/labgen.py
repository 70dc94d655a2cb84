#!/usr/bin/env python3
"""Generate and change the "lab results" tree of tests/bench/compare.sh.

    labgen.py make DIR [DIV]    100,000 log files of 1-4 KiB in 100
                                directories, and big.log of 200 MiB
    labgen.py append DIR [DIV]  append a line to 1% of the small files
    labgen.py grow DIR [DIV]    append 1 MiB to big.log

DIV (default 1) divides the number of files and big.log's size, for a
quick run; the same DIV must be given to every step.

Content is log-like text (timestamps, levels, test names, numbers), from
a fixed seed, so that every run and both tools see the same bytes and
compression does what it would on real logs.
"""
import os
import random
import sys

FILES = 100_000
DIRS = 100
BIG = 200 << 20
GROW = 1 << 20
WORDS = ("PASS", "FAIL", "SKIP", "INFO", "WARN", "DEBUG")
TESTS = ("net", "disk", "mem", "boot", "usb", "pci", "tls", "dns", "ntp")


def line(rng, t):
    return "%010d.%06d %s %s-%04d value=%d elapsed=%dms\n" % (
        t, rng.randrange(1000000), rng.choice(WORDS), rng.choice(TESTS),
        rng.randrange(10000), rng.randrange(1 << 20), rng.randrange(5000))


def text(rng, size, t):
    out = []
    n = 0
    while n < size:
        s = line(rng, t)
        t += rng.randrange(3)
        out.append(s)
        n += len(s)
    return "".join(out)[:size]


def path(d, i):
    return os.path.join(d, "run-%02d" % (i % DIRS), "test-%06d.log" % i)


def make(d):
    rng = random.Random(1)
    for k in range(DIRS):
        os.makedirs(os.path.join(d, "run-%02d" % k), exist_ok=True)
    for i in range(FILES):
        with open(path(d, i), "w") as f:
            f.write(text(rng, rng.randrange(1024, 4097), 1700000000 + i))
    with open(os.path.join(d, "big.log"), "w") as f:
        t = 1700000000
        for _ in range(BIG // (1 << 20)):
            f.write(text(rng, 1 << 20, t))
            t += 1000


def append(d):
    rng = random.Random(2)
    for i in rng.sample(range(FILES), FILES // 100):
        with open(path(d, i), "a") as f:
            f.write(line(rng, 1800000000))


def grow(d):
    rng = random.Random(3)
    with open(os.path.join(d, "big.log"), "a") as f:
        f.write(text(rng, GROW, 1800000000))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or \
            sys.argv[1] not in ("make", "append", "grow"):
        sys.exit(__doc__)
    if len(sys.argv) == 4:
        div = int(sys.argv[3])
        FILES //= div
        BIG = max(1, BIG // div // (1 << 20)) << 20
    globals()[sys.argv[1]](sys.argv[2])
