"""Bad input from a user: a file, a field or an argument the suite cannot take.

Every command catches ``UserError`` and prints its message on one line, exiting with status 2
(``--debug`` shows the traceback instead). The message names where the problem is: the file and
line and field, or the argument.
"""

from __future__ import annotations

import json
from pathlib import Path


class UserError(ValueError):
    """Input the suite refuses; the message says where (file:line and field, or the argument) and why."""


def schema_problem(validator, item) -> str | None:
    """What is wrong with ``item`` under a jsonschema validator, on one line, naming the field; None if nothing."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(item))
    if error is None:
        return None
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return (f"field {where.removeprefix('.')!r}: " if where else "") + one_line(error.message)


def one_line(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def document_schema(title: str, description: str, format_name: str, version: int, key: str, contents: dict) -> dict:
    """The JSON Schema of a document of this suite: its ``format`` and ``version`` (what ``read_document``
    checks first), and its contents under ``key``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        "type": "object",
        "properties": {"format": {"const": format_name}, "version": {"const": version}, key: contents},
        "required": ["format", "version", key],
        "additionalProperties": False,
    }


def read_document(path: Path, schema: dict, what: str) -> dict:
    """A JSON document of this suite (a baseline, site data), validated against its schema: first its
    ``format`` and ``version`` (the schema's constants), then the rest. A UserError names the file and the
    field (and the line, for a syntax error); ``what`` says what the document should have been."""
    import jsonschema

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start}); {what}") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}:{error.lineno}: not JSON ({error.msg} at column {error.colno}); {what}") from None
    for key in ("format", "version"):
        wanted = schema["properties"][key]["const"]
        found = document.get(key) if isinstance(document, dict) else type(document).__name__
        if found != wanted:
            raise UserError(f"{path}: field {key!r}: {found!r}, where this suite reads {wanted!r}; {what}")
    problem = schema_problem(jsonschema.Draft202012Validator(schema), document)
    if problem:
        raise UserError(f"{path}: {problem}")
    return document
