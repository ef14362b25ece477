"""Print python-dotenv's reading of .env files as JSON: one {key: value or null} object per
file given, in a list.

Used by the env-validate loader comparison tests; run with a clean environment so
expansion sees only the file.
"""
import json
import sys

from dotenv import dotenv_values

print(json.dumps([dotenv_values(path) for path in sys.argv[1:]], ensure_ascii=False))
