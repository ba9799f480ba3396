import pytest

LIMIT = 1000


@pytest.fixture
def limited_client(client_with):
    return client_with(max_request_bytes=LIMIT)


def chunks(total: int, size: int = 100):
    for _ in range(total // size):
        yield b" " * size


def test_body_limit_refuses_declared_length_over_limit(limited_client):
    response = limited_client.post(
        "/predict/logistic", content=b" " * 2000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body of 2000 bytes exceeds the limit of 1000 bytes"}


def test_body_limit_refuses_chunked_json_over_limit(limited_client):
    response = limited_client.post(
        "/predict/logistic", content=chunks(5000), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds the limit of 1000 bytes"}


def test_body_limit_refuses_chunked_multipart_over_limit(limited_client):
    boundary = b"xyz"
    head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'

    def body():
        yield head
        yield from chunks(5000)

    response = limited_client.post(
        "/predict/mnist",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds the limit of 1000 bytes"}


def test_body_limit_lets_smaller_bodies_through(limited_client):
    response = limited_client.post("/predict/logistic", json={"features": [4.0, 3.0]})
    assert response.status_code == 200


def test_body_limit_default_fits_a_full_batch_of_uploads(settings):
    assert settings.request_body_limit > settings.max_batch_size * settings.max_upload_bytes
