#!/usr/bin/env python3
"""Asks the real libpq (libpq.so.5) how it resolves connection strings.

Reads a JSON array of cases from stdin, each {"conn": str, "env": {name: value}}, and
writes a JSON array of answers. For each case the process environment is replaced by the
case's own (libpq reads PG* variables, HOME and the service files through it), then
PQconnectStartParams(dbname=<conn>, expand_dbname=1) parses the string exactly as psql and
psycopg do, applies the service file, the PG* variables and the built-in defaults, and
looks up .pgpass. An invalid `sslmode` is appended last, so libpq stops right after
resolving the hosts, user, database and password: no connection is ever attempted and
nothing leaves the machine. The error message then tells "resolved" (it names sslmode)
from "rejected" (anything else).
"""
import ctypes
import json
import os
import sys

STOP = "preflight-conformance-stop"

lib = ctypes.CDLL("libpq.so.5")


class Option(ctypes.Structure):
    _fields_ = [
        ("keyword", ctypes.c_char_p),
        ("envvar", ctypes.c_char_p),
        ("compiled", ctypes.c_char_p),
        ("val", ctypes.c_char_p),
        ("label", ctypes.c_char_p),
        ("dispchar", ctypes.c_char_p),
        ("dispsize", ctypes.c_int),
    ]


lib.PQconnectStartParams.restype = ctypes.c_void_p
lib.PQconnectStartParams.argtypes = [
    ctypes.POINTER(ctypes.c_char_p),
    ctypes.POINTER(ctypes.c_char_p),
    ctypes.c_int,
]
lib.PQconninfo.restype = ctypes.POINTER(Option)
lib.PQconninfo.argtypes = [ctypes.c_void_p]
lib.PQconninfoFree.argtypes = [ctypes.POINTER(Option)]
for name in ("PQerrorMessage", "PQhost", "PQport", "PQdb", "PQuser", "PQpass"):
    getattr(lib, name).restype = ctypes.c_char_p
    getattr(lib, name).argtypes = [ctypes.c_void_p]
lib.PQfinish.argtypes = [ctypes.c_void_p]


def text(raw):
    return None if raw is None else raw.decode("utf-8", "backslashreplace")


def ask(conn_text, env):
    os.environ.clear()
    os.environ.update(env)
    keywords = (ctypes.c_char_p * 3)(b"dbname", b"sslmode", None)
    values = (ctypes.c_char_p * 3)(
        conn_text.encode("utf-8", "surrogateescape"), STOP.encode(), None
    )
    conn = lib.PQconnectStartParams(keywords, values, 1)
    try:
        error = text(lib.PQerrorMessage(conn)) or ""
        if STOP not in error:
            return {"ok": False, "error": error.strip()}
        answer = {"ok": True}
        options = lib.PQconninfo(conn)
        i = 0
        while options[i].keyword:
            key = options[i].keyword.decode()
            if key in ("host", "hostaddr", "port", "dbname", "user", "service"):
                answer[key] = text(options[i].val)
            i += 1
        lib.PQconninfoFree(options)
        answer["first_host"] = text(lib.PQhost(conn))
        answer["first_port"] = text(lib.PQport(conn))
        answer["db"] = text(lib.PQdb(conn))
        answer["pquser"] = text(lib.PQuser(conn))
        answer["password"] = text(lib.PQpass(conn))
        return answer
    finally:
        lib.PQfinish(conn)


def main():
    cases = json.load(sys.stdin)
    answers = [ask(c["conn"], c.get("env", {})) for c in cases]
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
