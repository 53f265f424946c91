#!/usr/bin/python3
# Validates a JSON document against a JSON schema with every $ref resolved from the schema's own
# directory, never from the network: `validate_schema.py SCHEMA DOCUMENT`. Exit 0 when valid,
# 1 with one line per error when not, 2 when the schema or document cannot be read.
import json
import os
import sys
import urllib.parse

import jsonschema


def main():
    schema_path, doc_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    base = schema.get("$id", "file://" + os.path.abspath(schema_path))
    # Every schema beside it, under its $id and under the name a relative $ref gives it.
    store = {}
    schema_dir = os.path.dirname(os.path.abspath(schema_path))
    for name in os.listdir(schema_dir):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(schema_dir, name)) as f:
            other = json.load(f)
        if "$id" in other:
            store[other["$id"].rstrip("#")] = other
        store[urllib.parse.urljoin(base, name)] = other

    def offline(uri):
        raise jsonschema.RefResolutionError("not in the local schema store: " + uri)

    resolver = jsonschema.RefResolver(base, schema, store=store, handlers={"http": offline, "https": offline})
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
    with open(doc_path) as f:
        doc = json.load(f)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:20]:
        print("/".join(str(p) for p in e.absolute_path) + ": " + e.message[:300])
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, ValueError) as e:
        print(e, file=sys.stderr)
        sys.exit(2)
