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


def test_json_body_limit_is_much_smaller_than_the_upload_limit(settings):
    assert settings.json_body_limit == settings.max_batch_size * 16 * 1024 == 1024 * 1024
    assert settings.json_body_limit * 16 < settings.request_body_limit


def test_json_body_over_its_own_limit_is_413_before_it_is_read(client):
    response = client.post(
        "/predict/mnist/pixels",
        content=b" " * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body of 1048577 bytes exceeds the limit of 1048576 bytes"}


def test_json_body_limit_holds_for_oip_binary_bodies(client):
    response = client.post(
        "/v2/models/mnist/infer",
        content=b"{}" + b"\0" * (1024 * 1024),
        headers={"content-type": "application/octet-stream", "inference-header-content-length": "2"},
    )
    assert response.status_code == 413


def test_json_body_limit_fits_a_full_batch_of_pixels(client):
    images = [[255.0] * 784] * 64
    response = client.post("/predict/mnist/pixels", json={"instances": images})
    assert response.status_code == 200


def test_multipart_body_keeps_the_upload_limit(client):
    head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    response = client.post(
        "/predict/mnist",
        content=head + b"x" * (10 * 1024 * 1024 + 1) + b"\r\n--xyz--\r\n",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "file 'a.png' is larger than the upload limit of 10485760 bytes"


def test_body_limit_default_fits_the_upload_total(settings):
    assert settings.request_body_limit > settings.max_upload_total_bytes
