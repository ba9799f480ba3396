"""The drawing page's routes, without a browser: what is served, as what, and that it stays offline."""

import re

import pytest

from app.api.routes.page import ASSETS, PAGE_DIR


def test_index_is_html(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<canvas id="pad"' in response.text


@pytest.mark.parametrize(("name", "media_type"), ASSETS.items())
def test_asset_served_with_its_media_type(client, name, media_type):
    response = client.get(f"/page/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == (PAGE_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "missing.js"])
def test_asset_unknown_is_404(client, name):
    response = client.get(f"/page/{name}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no page asset named {name!r}"}


def test_page_policy_allows_only_its_own_host(client):
    headers = client.get("/").headers
    assert headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("name", ["index.html", *ASSETS])
def test_page_file_names_no_other_host(name):
    text = (PAGE_DIR / name).read_text()
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", text) == []


def test_page_linked_from_the_docs(client):
    assert "[Draw a digit](/)" in client.get("/openapi.json").json()["info"]["description"]


def test_page_links_to_the_docs(client):
    assert '<a href="/docs">' in client.get("/").text


def test_page_routes_absent_from_the_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/page/{name}" not in paths
