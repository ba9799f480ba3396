# syntax=docker/dockerfile:1
# The prediction API with the committed model repository: `docker run -p 8000:8000 -p 8001:8001 IMAGE`
# serves REST on 8000 and the Open Inference Protocol over gRPC on 8001 (SERVE_GRPC_PORT) at once.
# Mount another repository at /srv/model_repository (writable, for the admin calls) to serve your models.
# Build arguments:
#   BASE_IMAGE    any Debian-like image with python3 (>= 3.10) and its venv module
#   TORCH_SPEC    the torch requirement, installed first; e.g. torch==2.13.0 with PyTorch's CPU index
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS   where pip looks (README: the CPU-only image)
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS venv
ARG TORCH_SPEC=torch
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# A venv, not the base image's interpreter: the same steps then suit python:*-slim and Debian's python3.
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, on its own layer: it is most of the image and changes least.
RUN pip install "$TORCH_SPEC"
WORKDIR /src
# Serving requirements next, pinned by constraints.txt, except the torch family: the torch installed
# above is pinned in its place, so that pip keeps it (a CPU build is not the one constraints.txt names).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
 && grep -vE '^(torch|torchvision|triton|nvidia-|cuda-)' constraints.txt > serving-constraints.txt \
 && pip freeze | grep -iE '^torch==' >> serving-constraints.txt \
 && pip install -c serving-constraints.txt -r requirements.txt

# The project as a wheel: app and models only (no training code, tests or extras).
FROM venv AS wheel
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
COPY README.md ./
COPY app app
COPY models models
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${BASE_IMAGE}
RUN groupadd --gid 10001 serve \
 && useradd --uid 10001 --gid serve --no-create-home --shell /usr/sbin/nologin serve
# The dependencies' layer (about 1 GB) is reused as long as they do not change; a code change only
# replaces the small wheel below.
COPY --from=venv /opt/venv /opt/venv
COPY --from=wheel /wheels /tmp/wheels
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-index /tmp/wheels/*.whl \
 && /opt/venv/bin/pip check && rm -rf /tmp/wheels
WORKDIR /srv
# Readable by the serving user whatever mode the files were saved with.
COPY model_repository model_repository
RUN chmod -R a+rX,a-w model_repository
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
USER 10001:10001
EXPOSE 8000 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/ready', timeout=4)"
# Exec form: digit-serve is PID 1 and gets SIGTERM itself, so `docker stop` drains requests in flight.
CMD ["digit-serve"]
