"""Reads the department record of the resident named in ?rid= with the delegation of the request it serves, and
answers which fields it got. ?rid=snoop reads the resident in target.py instead, whom no request names: a snooping
app (it got the ID elsewhere, e.g. from the public dataset)."""

import http.client
import json
import os
import socket
from urllib.parse import parse_qs


def app(environ, start_response):
    rid = parse_qs(environ.get("QUERY_STRING", "")).get("rid", [""])[0]
    if rid == "snoop":
        from target import TARGET

        rid = TARGET
    conn = http.client.HTTPConnection("dept")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(os.environ["GOVAPP_DEPT_SOCKET"])
    conn.sock = sock
    conn.request("GET", "/persons/" + rid,
                 headers={"Authorization": "Bearer " + environ.get("HTTP_X_DEPARTMENT_TOKEN", "")})
    reply = conn.getresponse()
    record = json.loads(reply.read() or b"null")
    answer = {"dept_status": reply.status,
              "fields": sorted(record) if reply.status == 200 else [], "refusal": (record or {}).get("error")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
