"""schemathesis hooks for the API contract test: state an operation needs, from fixtures.

Generated values rarely name a real thing: a random token is never a real invitation, a random
id is never one of the practice's users. The test (tests/it/contract.rs) writes the real ones
into the JSON file named by GATEHOUSE_FIXTURES, keyed by operation ("POST /api/v1/signup"):

    {"POST /api/v1/signup": {"body": {"token": ["..."]}},
     "GET /api/v1/practice/users/{id}": {"path": {"id": [1015, 1016]}}}

For schema-valid cases only (a negative case stays as generated, so it is still refused), a
field found in the fixtures is replaced by one of its real values, chosen by the generated value,
or left as generated one time in (values + 1), so the unhappy path is still tried.
"""

import hashlib
import json
import os

import schemathesis

_PATH = os.environ.get("GATEHOUSE_FIXTURES")
FIXTURES = json.load(open(_PATH)) if _PATH else {}


def _choose(generated, values):
    digest = hashlib.sha256(repr(generated).encode()).digest()
    i = int.from_bytes(digest[:8], "big") % (len(values) + 1)
    return values[i] if i < len(values) else generated


def _replace(target, fixtures):
    if not isinstance(target, dict):
        return target
    for name, values in fixtures.items():
        if name in target and values:
            target[name] = _choose(target[name], values)
    return target


@schemathesis.hook
def map_case(context, case):
    op = context.operation
    fixtures = FIXTURES.get(f"{op.method.upper()} {op.path}")
    if not fixtures:
        return case
    meta = getattr(case, "meta", None)
    if meta is not None and meta.generation.mode.is_negative:
        return case
    if "path" in fixtures and case.path_parameters:
        case.path_parameters = _replace(dict(case.path_parameters), fixtures["path"])
    if "body" in fixtures and isinstance(case.body, dict):
        case.body = _replace(dict(case.body), fixtures["body"])
    return case
