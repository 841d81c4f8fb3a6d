#!/usr/bin/env python3
"""Sum meson's test log into one closing line: 'N passed, N failed, N skipped'.

TAP tests count per test case (Criterion prints one line per case); other tests
count once. Used by deploy/quickstart.sh so every run ends with the same line.
"""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1]) as log:
    for line in log:
        t = json.loads(line)
        cases = [l for l in t.get('stdout', '').splitlines()
                 if re.match(r'(not )?ok\b', l)]
        if not cases:
            r = t['result']
            if r == 'SKIP':
                skipped += 1
            elif r in ('OK', 'EXPECTEDFAIL'):
                passed += 1
            else:
                failed += 1
            continue
        for c in cases:
            if re.search(r'#\s*SKIP', c, re.I):
                skipped += 1
            elif c.startswith('ok'):
                passed += 1
            else:
                failed += 1
        if t['result'] not in ('OK', 'SKIP', 'EXPECTEDFAIL') and \
                not any(c.startswith('not ok') for c in cases):
            failed += 1  # crashed or timed out outside any case
print(f'tests: {passed} passed, {failed} failed, {skipped} skipped')
