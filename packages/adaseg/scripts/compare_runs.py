#!/usr/bin/env python3
"""Compares two `adaseg run` (or `adaseg demo`) output folders number for number.

    python3 packages/adaseg/scripts/compare_runs.py BEFORE AFTER

Equal means: results.json equal once timings and paths are left out, and every train.jsonl of
BEFORE present in AFTER with the same lines (losses, learning rates, evaluations; times, speeds and
checkpoint paths left out). For checking that a change keeps a deterministic run (`--threads 1`)
exactly as it was: configs/camvid-regression.yaml says how. Exits 0 when equal, 1 otherwise, with
the first difference of each file that differs.
"""
import glob
import json
import os
import re
import sys

# Fields that change from run to run or with the folder, never with the numbers.
VOLATILE = re.compile(r'(?i)seconds|time|path|dir|^output$|^config$|^checkpoint$|^generated$|^date$|itPerSecond')


def stable(value, roots):
    if isinstance(value, dict):
        return {k: stable(v, roots) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [stable(v, roots) for v in value]
    if isinstance(value, str):
        for root in roots:
            value = value.replace(root, '<run>')
    return value


def first_difference(a, b, where=''):
    if type(a) is not type(b):
        return f'{where}: {a!r} against {b!r}'
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f'{where}.{k}: only in {"after" if k not in a else "before"}'
            d = first_difference(a[k], b[k], f'{where}.{k}')
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f'{where}: {len(a)} entries against {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f'{where}[{i}]')
            if d:
                return d
        return None
    return None if a == b else f'{where}: {a!r} against {b!r}'


def main(argv):
    if len(argv) != 3 or not all(os.path.isdir(d) for d in argv[1:]):
        sys.exit('usage: compare_runs.py BEFORE_DIR AFTER_DIR (two adaseg run output folders)')
    before, after = (os.path.abspath(d) for d in argv[1:])
    roots = [before, after]
    differing = 0
    results = [os.path.join(d, 'results.json') for d in (before, after)]
    if all(os.path.exists(f) for f in results):
        a, b = (stable(json.load(open(f)), roots) for f in results)
        d = first_difference(a, b, 'results.json')
        print(f'results.json: {"equal" if d is None else "differs at " + d}')
        differing += d is not None
    else:
        print('results.json: missing in ' + ' and '.join(f for f in results if not os.path.exists(f)))
        differing += 1
    logs = sorted(glob.glob(os.path.join(before, '**', 'train.jsonl'), recursive=True))
    for log in logs:
        rel = os.path.relpath(log, before)
        other = os.path.join(after, rel)
        if not os.path.exists(other):
            print(f'{rel}: missing in {after}')
            differing += 1
            continue
        a, b = ([stable(json.loads(line), roots) for line in open(f) if line.strip()] for f in (log, other))
        d = first_difference(a, b, rel)
        if d is not None:
            print(f'{rel}: differs at {d}')
            differing += 1
    print(f'train.jsonl files compared: {len(logs)}; files that differ: {differing}')
    return 1 if differing else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
