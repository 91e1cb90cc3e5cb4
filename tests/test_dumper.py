"""api.dumper.Dumper answers as Schema.dump does, for generated objects."""
from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, post_dump

from api.dumper import Dumper
from api.users.schemas import PublicUserSchema, UserSchema, own_user, public_user


class _Shout(fields.String):
    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        return str(super().serialize(attr, obj, accessor, **kwargs)).upper()


class _Kinds(Schema):
    """Fields of every kind the Dumper must tell apart."""
    plain = fields.String()
    renamed = fields.Integer(data_key="Renamed")
    sourced = fields.Boolean(attribute="source")
    counted = fields.Integer(dump_default=lambda: 7)
    fallback = fields.String(dump_default="none")
    method = fields.Method("_describe")
    function = fields.Function(lambda obj: "f")
    shout = _Shout()
    when = fields.DateTime()
    nested = fields.Nested(PublicUserSchema, allow_none=True)

    def _describe(self, obj: Any) -> str:
        return type(obj).__name__


class _Dotted(Schema):
    deep = fields.String(attribute="a.b")


class _Processed(Schema):
    name = fields.String()

    @post_dump
    def _tag(self, data: dict, **_: Any) -> dict:
        return {**data, "tagged": True}


SCHEMAS = [UserSchema, PublicUserSchema, _Kinds, _Dotted, _Processed]

KEYS = ["id", "username", "display_name", "created_at", "email", "is_admin", "is_blocked",
        "totp_enabled", "updated_at", "plain", "renamed", "Renamed", "source", "sourced",
        "counted", "fallback", "shout", "when", "nested", "a", "name"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.text(max_size=8),
    st.datetimes(min_value=datetime.datetime(2000, 1, 1)),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
    st.sampled_from(["2026-11-23T10:00:00", "x", "1"]),
    st.builds(dict, id=st.integers(1, 9), username=st.text(max_size=4)),
    st.builds(dict, b=st.text(max_size=4)),
)


@st.composite
def objects(draw: Any) -> Any:
    data = draw(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=len(KEYS)))
    kind = draw(st.sampled_from(["dict", "namespace"]))
    return data if kind == "dict" else SimpleNamespace(**data)


def _outcome(dump: Any, obj: Any, many: bool) -> tuple[str, Any]:
    try:
        return "ok", dump(obj, many=many)
    except Exception as exc:  # the same failure, from the same field
        return "error", (type(exc), str(exc))


@pytest.mark.parametrize("schema_class", SCHEMAS, ids=lambda cls: cls.__name__)
@settings(max_examples=200, deadline=None)
@given(objs=st.lists(objects(), min_size=1, max_size=3), many=st.booleans())
def test_same_output_as_schema_dump(schema_class: type[Schema], objs: list, many: bool) -> None:
    schema = schema_class()
    obj = objs if many else objs[0]
    assert _outcome(Dumper(schema).dump, obj, many) == _outcome(schema.dump, obj, many)


def test_the_shortcut_is_taken_only_where_marshmallow_would_read_a_plain_name() -> None:
    dumper = Dumper(_Kinds())
    plain = {name for name, _, _, _, plainly in dumper._fields if plainly}
    assert plain == {"plain", "renamed", "sourced", "counted", "fallback", "when", "nested"}
    assert Dumper(_Kinds()).plain
    assert not Dumper(_Dotted()).plain and not Dumper(_Processed()).plain
    assert own_user.plain and public_user.plain


def test_an_account_row_and_entity_dump_alike() -> None:
    when = datetime.datetime(2026, 11, 23, 10, 0, 0)
    row = {"id": 7, "username": "ada", "display_name": None, "email": "ada@example.com",
           "is_admin": False, "is_blocked": False, "totp_enabled": True,
           "created_at": when, "updated_at": when}
    expected = {"id": 7, "username": "ada", "display_name": None,
                "created_at": "2026-11-23T10:00:00+00:00", "email": "ada@example.com",
                "is_admin": False, "is_blocked": False, "two_factor_enabled": True,
                "updated_at": "2026-11-23T10:00:00+00:00"}
    assert own_user.dump(row) == expected == own_user.dump(SimpleNamespace(**row))
    assert public_user.dump([row], many=True) == [
        {k: expected[k] for k in ("id", "username", "display_name", "created_at")}]
