"""Loading request data with a marshmallow schema, for the cost of its fields.

`Schema.load` is general: processors, field and schema validators, partial
and many loads, unknown-field modes, nested error stores. For a schema that
uses none of that (every request body here but one), a load is only each
field's own `deserialize` (its type, `required` and validators), then the
unknown keys rejected. `Loader` does just that, for a fraction of the cost
of `Schema.load`. Any other schema is loaded by `Schema.load` itself.

A string given to a plain string field (the usual body) skips even the
field's `deserialize`: its validators are called in turn, as marshmallow's
`And` calls them, and their messages collected as `And` collects them.

The fields, their messages and their validators stay marshmallow's (the
OpenAPI document is built from the same schemas), and the answers are the
same as `Schema.load`'s (tests compare the two on generated input). Errors
come back as marshmallow's messages, keyed by field name; unknown keys are
listed in the order the client sent them.

It reads marshmallow's private attributes (`Schema._hooks`, and compares
`Field._validate`, `_validate_all` and `String._deserialize` with their
overrides), which only an invalid body's cost justifies (bench/README.md,
"Public APIs instead of private machinery"). So marshmallow is pinned
exactly (requirements.txt, setup.cfg); tests/test_loader.py compares every
answer with `Schema.load`'s and tests/test_library_pins.py checks the
attributes, so an upgrade that changes them fails the suite.
"""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, missing
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

_LOAD_HOOKS = (PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA)


def _is_plain(schema: Schema) -> bool:
    """No processors or validators of the schema's own, one object per load,
    no partial loads, no unknown keys kept, and no dotted attributes."""
    return (not any(schema._hooks[tag] for tag in _LOAD_HOOKS)
            and not schema.many and not schema.partial
            and schema.unknown in (RAISE, EXCLUDE)
            and not any("." in (field.attribute or name)
                        for name, field in schema.load_fields.items()))


_FIELD = fields.Field
_STRING = fields.String


def _string_validators(field: fields.Field) -> tuple[Any, ...] | None:
    """A field that takes a str as it is (String's type check, no
    processors, marshmallow's own deserialize and validation): its
    validators. Any other field: None."""
    cls = type(field)
    if isinstance(field, _STRING) and not field.pre_load and not field.post_load \
            and cls.deserialize is _FIELD.deserialize and cls._validate is _FIELD._validate \
            and cls._validate_all is _FIELD._validate_all \
            and cls._deserialize is _STRING._deserialize:
        return tuple(field.validators)
    return None


def _check(validators: tuple[Any, ...], value: str) -> list[Any] | None:
    """What marshmallow's And does with the validators: every one is run,
    and the messages of those that fail are collected (None: all passed)."""
    messages: list[Any] | None = None
    for validator in validators:
        try:
            validator(value)
        except ValidationError as error:
            if messages is None:
                messages = []
            if isinstance(error.messages, dict):
                messages.append(error.messages)
            else:
                messages.extend(error.messages)
    return messages


class Loader:
    """Loads a mapping with one schema; built once per schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.plain = _is_plain(schema)
        # (key in the data, key in the result, field, a string field's
        # validators), in declaration order
        self._fields = [(field.data_key if field.data_key is not None else name,
                         field.attribute or name, field, _string_validators(field))
                        for name, field in schema.load_fields.items()]
        self._known = frozenset(key for key, _, _, _ in self._fields)
        self._reject_unknown = schema.unknown == RAISE
        self._unknown_message = schema.error_messages["unknown"]

    def load(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """What `Schema.load` returns, or its ValidationError."""
        result, errors = self.attempt(data)
        if errors:
            raise ValidationError(errors, data=data, valid_data=result)
        return result

    def attempt(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the loaded data, {}), or (what loaded, marshmallow's messages by
        field) without raising: the caller raises its own error."""
        if not self.plain:
            return _schema_attempt(self.schema, data)
        result: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, attribute, field, validators in self._fields:
            value = data.get(key, missing)
            if validators is not None and type(value) is str:
                messages = _check(validators, value)
            else:
                value, messages = _deserialize(field, value, key, data)
            if messages is not None:
                errors[key] = messages
            elif value is not missing:
                result[attribute] = value
        if self._reject_unknown:
            for key in data:
                if key not in self._known:
                    errors[key] = [self._unknown_message]
        return result, errors


def _deserialize(field: fields.Field, value: Any, key: str,
                 data: Mapping[str, Any]) -> tuple[Any, Any]:
    """(the field's value, None) or (missing, its messages)."""
    try:
        return field.deserialize(value, key, data), None
    except ValidationError as error:
        return missing, error.messages


def _schema_attempt(schema: Schema,
                    data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return schema.load(data), {}
    except ValidationError as exc:
        exc.__traceback__ = None  # Schema.load keeps it in a frame on it: a cycle
        return {}, exc.messages  # type: ignore[return-value]
