"""SERVE_TRUSTED_HOSTS, and API routes that never redirect (a redirect would echo the Host header)."""

import pytest


@pytest.fixture
def trusting_client(client_with):
    return client_with(trusted_hosts=["api.example.com", "*.internal.example"])


@pytest.mark.parametrize("host", ["api.example.com", "API.example.com:8443", "a.internal.example"])
def test_trusted_hosts_listed_host_is_served(trusting_client, host):
    response = trusting_client.get("/health/live", headers={"host": host})
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "internal.example", "api.example.com.evil", ""])
def test_trusted_hosts_other_host_is_400(trusting_client, host):
    response = trusting_client.get("/models", headers={"host": host})
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "the Host header names a host this service does not answer to"},
    )
    assert "x-request-id" in response.headers  # refused inside the observability middleware: logged


def test_trusted_hosts_default_allows_any_host(client):
    assert client.get("/health/live", headers={"host": "anything.example"}).status_code == 200


@pytest.mark.parametrize("path", ["/models/", "/health/live/", "/v2/", "/predict/logistic/"])
def test_trailing_slash_is_404_not_a_redirect(client, path):
    response = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
    assert response.status_code in (404, 405)
    assert "location" not in response.headers
