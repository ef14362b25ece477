"""Print python-dotenv's reading of a .env file as JSON ({key: value or null}).

Used by the env-validate loader comparison tests; run with a clean environment so
expansion sees only the file.
"""
import json
import sys

from dotenv import dotenv_values

print(json.dumps(dotenv_values(sys.argv[1]), ensure_ascii=False))
