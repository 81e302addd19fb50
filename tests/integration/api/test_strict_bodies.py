"""JSON bodies are UTF-8 only (RFC 8259): UTF-16, UTF-32, a byte-order mark or bytes that are
not UTF-8 get 415 ``not-utf-8`` and record nothing; an integer longer than Python converts is
a 422 ``validation-error`` naming its field, as any other invalid value."""

from __future__ import annotations

import json
from codecs import BOM_UTF8

import pytest

from .support import PLAN, Harness, plan_body

pytestmark = pytest.mark.integration


def post_plan(api: Harness, body: bytes, key: str) -> object:
    return api.client.post(
        "/plans",
        content=body,
        headers={**api.admin, "Idempotency-Key": key, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode("utf-16"), id="utf-16 with a BOM"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-le"),
        pytest.param(lambda text: text.encode("utf-32"), id="utf-32"),
        pytest.param(lambda text: BOM_UTF8 + text.encode(), id="utf-8 with a BOM"),
        pytest.param(
            lambda text: text.replace("Kế hoạch", "Café").encode("latin-1", "replace"), id="latin-1"
        ),
    ],
)
def test_a_json_body_not_in_utf8_is_refused_with_415(api: Harness, encode: object) -> None:
    text = json.dumps(plan_body(), ensure_ascii=False)
    response = post_plan(api, encode(text), "encoded")  # type: ignore[operator]
    assert response.status_code == 415, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.json()["code"] == "not-utf-8"  # type: ignore[attr-defined]
    assert api.get(f"/plans/{PLAN}/versions").status_code == 404


def test_the_same_body_in_utf8_is_recorded(api: Harness) -> None:
    text = json.dumps(plan_body(), ensure_ascii=False)
    response = post_plan(api, text.encode(), "utf-8")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]


def test_an_integer_too_long_to_convert_is_a_validation_error(api: Harness) -> None:
    body = json.dumps({**plan_body(), "start_year": 0}).replace(
        '"start_year": 0', '"start_year": ' + "9" * 4_301
    )
    response = post_plan(api, body.encode(), "long-int")
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["code"] == "validation-error"
    assert [error["field"] for error in problem["errors"]] == ["body.start_year"]
    assert api.get(f"/plans/{PLAN}/versions").status_code == 404


def test_a_long_run_of_digits_in_a_string_is_judged_as_a_string(api: Harness) -> None:
    body = {**plan_body(), "title": "9" * 5_000}
    response = post_plan(api, json.dumps(body).encode(), "long-string")
    assert response.status_code == 422  # type: ignore[attr-defined]
    errors = response.json()["errors"]  # type: ignore[attr-defined]
    assert [error["field"] for error in errors] == ["body.title"]
    assert errors[0]["type"] != "int_too_long"
