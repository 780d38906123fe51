"""What every API route shares: keys, problem details, size limits, the documents."""

from __future__ import annotations

from tests.integration.api.conftest import Api, problem


def test_health_and_the_openapi_document(api: Api) -> None:
    anon = api.client(None)
    assert anon.get("/healthz").json() == {"status": "ok", "database": "ok"}
    spec = anon.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "ftpush"
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert anon.get("/api/docs").status_code == 200


def test_keys_are_required_checked_and_revocable(api: Api) -> None:
    path = "/api/v1/campaigns"
    body = problem(api.client(None).get(path), 401)
    assert "API key" in body["detail"]
    assert api.client(None).get(path).headers["www-authenticate"].startswith("Bearer")
    problem(api.client(None, Authorization="Bearer ftp_nope_x").get(path), 401)
    problem(api.client(None, Authorization="Basic YWxpY2U6cHc=").get(path), 401)
    problem(api.client(None, Authorization="Bearer " + "x" * 5000).get(path), 401)
    prefix, key = api.new_key()
    assert api.client(None, Authorization=f"Bearer {key}").get(path).status_code == 200
    with api.db.transaction() as s:
        from ftpush.storage import api_keys

        api_keys.revoke_api_key(s, prefix)
    problem(api.client(None, Authorization=f"Bearer {key}").get(path), 401)


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    problem(api.client().get("/api/v1/nothing-here"), 404)
    problem(api.client().delete("/api/v1/campaigns"), 405)


def test_bodies_over_the_limit_are_refused_early(api: Api) -> None:
    limit = api.settings.web.max_json_bytes
    big = b'{"x": "' + b"a" * (limit + 10) + b'"}'
    response = api.client().post(
        "/api/v1/events", content=big, headers={"content-type": "application/json"}
    )
    problem(response, 413)

    def chunks() -> object:
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536

    streamed = api.client().post(
        "/api/v1/events", content=chunks(), headers={"content-type": "application/json"}
    )
    problem(streamed, 413)


def test_malformed_json_names_the_problem(api: Api) -> None:
    response = api.client().post(
        "/api/v1/push", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
