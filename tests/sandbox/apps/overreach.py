"""Serves GET /read?rid=<the citizen's own resident ID>: reads that person's record and the businesses they
represent (the optional field ``businesses``) with the delegation of the request, and answers 200 whatever it got,
so only the department's call log tells how it behaved. ``MODE`` in overreach_mode.py says how:

- ``polite``: reads the businesses only when the citizen delegated that optional field (what a correct app does);
- ``optional``: reads them without looking, so a citizen who left the field unticked is asked about anyway;
- ``other``: when the citizen withheld the optional field, reads the record of ``TARGET`` instead — a person no
  request named (an app that helps itself where its citizen said no).
"""

import base64
import http.client
import json
import os
import socket
from urllib.parse import parse_qs

from overreach_mode import MODE, TARGET


def delegated_fields(token):
    try:
        payload = token.split(".")[1]
        return set(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["fields"])
    except (IndexError, KeyError, ValueError):
        return set()


def department(path, token):
    conn = http.client.HTTPConnection("dept")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(os.environ["GOVAPP_DEPT_SOCKET"])
    conn.sock = sock
    conn.request("GET", path, headers={"Authorization": "Bearer " + token})
    reply = conn.getresponse()
    reply.read()
    conn.close()
    return reply.status


def app(environ, start_response):
    rid = parse_qs(environ.get("QUERY_STRING", "")).get("rid", [""])[0]
    token = environ.get("HTTP_X_DEPARTMENT_TOKEN", "")
    statuses = [department("/persons/" + rid, token)]
    consented = "businesses" in delegated_fields(token)
    if consented or MODE == "optional":
        statuses.append(department("/persons/" + rid + "/businesses", token))
    elif MODE == "other":
        statuses.append(department("/persons/" + TARGET, token))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"read": len(statuses)}).encode()]
