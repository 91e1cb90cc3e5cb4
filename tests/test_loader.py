"""api.loader.Loader answers exactly as marshmallow's Schema.load does."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, fields, post_load, validate

import api.auth.schemas
import api.users.schemas
from api.loader import Loader


def _schemas() -> list[type[Schema]]:
    found = []
    for module in (api.auth.schemas, api.users.schemas):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Schema) and value is not Schema \
                    and value.__module__ == module.__name__:
                found.append(value)
    return sorted(found, key=lambda cls: cls.__name__)


SCHEMAS = _schemas()


def _nested_message(value: str) -> None:
    if value.startswith("x"):
        raise ValidationError({"inner": ["Starts with x."]})


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class _Upper(fields.String):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


class _Strings(Schema):
    """String fields of every kind the Loader's shortcut must tell apart."""
    many_rules = fields.String(validate=[
        validate.Length(min=3, max=8), validate.Regexp(r"^[a-z]+$"), _nested_message,
        lambda value: False])  # And ignores a plain function's False
    email = fields.Email(required=True, validate=validate.Length(max=12))
    stripped = fields.String(pre_load=_strip, validate=validate.Length(min=2))
    upper = _Upper(validate=validate.OneOf(["AB", "ab"]))
    optional = fields.String(allow_none=True, load_default="none given",
                             data_key="Optional", validate=validate.Length(max=4))


SHORTCUT_SCHEMAS = [*SCHEMAS, _Strings]

# values that pass some fields and fail others
VALUES = st.one_of(
    st.none(), st.booleans(), st.binary(max_size=3), st.integers(-5, 200),
    st.floats(allow_nan=False),
    st.text(max_size=20), st.emails(), st.from_regex(r"[A-Za-z0-9_.-]{3,32}", fullmatch=True),
    st.text(min_size=8, max_size=12), st.just("2026-11-23T10:00:00+00:00"), st.just("20"),
    st.sampled_from(["ab", "AB", " ab ", "xyz", "abcdefghij", "a@b.io", "a@b.example.org"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


def _outcome(load: Any, data: dict) -> tuple[str, Any]:
    try:
        return "ok", load(data)
    except ValidationError as err:
        return "error", err.messages


@st.composite
def bodies(draw: Any, schema: Schema) -> dict:
    keys = [f.data_key or name for name, f in schema.load_fields.items()]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    body = {key: draw(VALUES) for key in chosen}
    for extra in draw(st.lists(st.text(min_size=1, max_size=6), max_size=2)):
        body.setdefault(extra, draw(VALUES))
    return body


def test_the_app_schemas_are_found() -> None:
    names = {cls.__name__ for cls in SCHEMAS}
    assert {"RegisterSchema", "LoginSchema", "UserUpdateSchema",
            "UserListQuerySchema"} <= names


@pytest.mark.parametrize("schema_class", SHORTCUT_SCHEMAS, ids=lambda cls: cls.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_same_answers_as_schema_load(schema_class: type[Schema], data: Any) -> None:
    schema = schema_class()
    body = data.draw(bodies(schema))
    assert _outcome(Loader(schema).load, body) == _outcome(schema.load, body)


def test_the_shortcut_is_taken_only_for_strings_taken_as_they_are() -> None:
    loader = Loader(_Strings())
    shortcut = {key: validators is not None for key, _, _, validators in loader._fields}
    assert shortcut == {"many_rules": True, "email": True, "stripped": False,
                        "upper": False, "Optional": True}


def test_every_failing_validator_is_reported_as_marshmallow_does() -> None:
    with pytest.raises(ValidationError) as info:
        Loader(_Strings()).load({"many_rules": "x1", "email": "a@b.io"})
    assert info.value.messages == {"many_rules": [
        "Length must be between 3 and 8.", "String does not match expected pattern.",
        {"inner": ["Starts with x."]}]}


def test_a_valid_registration_loads() -> None:
    loader = Loader(api.auth.schemas.RegisterSchema())
    body = {"username": "ada_l", "email": "ada@example.com", "password": "long-enough-1"}
    assert loader.plain and loader.load(body) == body


def test_errors_name_each_field_and_unknown_keys_in_order() -> None:
    loader = Loader(api.auth.schemas.RegisterSchema())
    with pytest.raises(ValidationError) as info:
        loader.load({"zeta": 1, "username": "x", "alpha": 2, "password": "long-enough-1"})
    assert info.value.messages == {
        "username": ["Length must be between 3 and 32."],
        "email": ["Missing data for required field."],
        "zeta": ["Unknown field."], "alpha": ["Unknown field."]}
    assert list(info.value.messages) == ["username", "email", "zeta", "alpha"]


class _Processed(Schema):
    name = fields.String(required=True)

    @post_load
    def _upper(self, data: dict, **_: Any) -> dict:
        return {"name": data["name"].upper()}


class _Included(Schema):
    class Meta:
        unknown = INCLUDE

    name = fields.String()


class _Excluded(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(data_key="Name", attribute="full_name")


def test_other_schemas_are_loaded_by_marshmallow() -> None:
    """A schema with processors, validators or kept unknown keys is not plain."""
    assert not Loader(api.users.schemas.UserUpdateSchema()).plain
    with pytest.raises(ValidationError) as info:
        Loader(api.users.schemas.UserUpdateSchema()).load({})
    with pytest.raises(ValidationError) as direct:
        api.users.schemas.UserUpdateSchema().load({})
    assert info.value.messages == direct.value.messages and "_schema" in direct.value.messages
    assert Loader(_Processed()).load({"name": "ada"}) == {"name": "ADA"}
    assert Loader(_Included()).load({"name": "a", "x": 1}) == {"name": "a", "x": 1}
    assert not Loader(_Included()).plain
    assert not Loader(_Processed(many=True)).plain


def test_data_keys_attributes_and_excluded_unknowns() -> None:
    loader = Loader(_Excluded())
    assert loader.plain
    assert loader.load({"Name": "Ada", "other": 1}) == {"full_name": "Ada"}
