#!/usr/bin/env python3
"""Lists public declarations in Sources/ that have no `///` doc comment directly above them
(attributes such as @discardableResult may sit in between). Exit status 1 if any is missing."""
import pathlib
import re
import sys

declaration = re.compile(r'^\s*(public|open)\s+(static\s+|final\s+|override\s+|convenience\s+|nonisolated\s+|mutating\s+)*'
                         r'(func|var|let|init|class|struct|enum|protocol|actor|typealias|subscript|case|extension)\b')
missing = []
for path in sorted(pathlib.Path('Sources').rglob('*.swift')):
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        if not declaration.match(line) or re.match(r'^\s*public\s+extension\b', line):
            continue
        previous = index - 1
        while previous >= 0 and re.match(r'^\s*@', lines[previous]):
            previous -= 1
        if previous < 0 or not lines[previous].strip().startswith('///'):
            missing.append(f'{path}:{index + 1}: {line.strip()}')
print('\n'.join(missing))
sys.exit(1 if missing else 0)
