"""deploy/, offline: each kustomization rendered by kubectl's kustomize, each object checked against a schema.

Run by `make test-deploy` (the `deploy` marker and extra; no cluster is needed or reached):

* Kubernetes' own kinds against the Kubernetes JSON schemas (kubernetes-validate, strict: an unknown or
  misspelt field is an error), for the oldest and newest Kubernetes versions the manifests target;
* the ServiceMonitor against the prometheus-operator's models (cloudcoil), unknown fields refused too;
* the KServe InferenceService, whose CRD schema is not available offline, against the part of KServe's
  PredictorSpec it uses, with the Kubernetes types it embeds (containers, volumes, metadata) checked
  against the Kubernetes schemas.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import create_app

pytestmark = pytest.mark.deploy
# The deploy extra's packages, skipped (not a collection error) where `make test` runs without them.
jsonschema = pytest.importorskip("jsonschema", reason="pip install -e '.[deploy]'")
yaml = pytest.importorskip("yaml", reason="pip install -e '.[deploy]'")
referencing = pytest.importorskip("referencing", reason="pip install -e '.[deploy]'")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[deploy]'")
prometheus_operator = pytest.importorskip("cloudcoil.models.prometheus_operator.v1")

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
# The oldest with every field used (the preStop sleep action), and the newest the schemas know.
KUBERNETES_VERSIONS = ["1.33", "1.37"]
KUSTOMIZATIONS = {
    "base": {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"},
    "overlays/production": {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PersistentVolumeClaim",
        "ServiceMonitor",
    },
}
CORE = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s."  # the $id the schemas carry
# The fields of KServe's v1beta1 InferenceService that deploy/kserve/inferenceservice.yaml uses.
INFERENCE_SERVICE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "serving.kserve.io/v1beta1"},
        "kind": {"const": "InferenceService"},
        "metadata": {"$ref": CORE + "apimachinery.pkg.apis.meta.v1.ObjectMeta"},
        "spec": {
            "type": "object",
            "required": ["predictor"],
            "additionalProperties": False,
            "properties": {
                "predictor": {
                    "type": "object",
                    "required": ["containers"],
                    "additionalProperties": False,
                    "properties": {
                        "minReplicas": {"type": "integer", "minimum": 0},
                        "maxReplicas": {"type": "integer", "minimum": 1},
                        "scaleMetric": {"enum": ["cpu", "memory", "concurrency", "rps"]},
                        "scaleTarget": {"type": "integer", "minimum": 1},
                        "containers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": CORE + "api.core.v1.Container"},
                        },
                        "volumes": {"type": "array", "items": {"$ref": CORE + "api.core.v1.Volume"}},
                    },
                }
            },
        },
    },
}


def render(kustomization: str) -> list[dict]:
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(ROOT / "deploy/kubernetes" / kustomization)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return list(yaml.safe_load_all(result.stdout))


@pytest.fixture(scope="module", params=list(KUSTOMIZATIONS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def of_kind(objects: list[dict], kind: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def inference_service() -> dict:
    return yaml.safe_load((ROOT / "deploy/kserve/inferenceservice.yaml").read_text())


def kubernetes_registry(version: str) -> referencing.Registry:
    schemas = f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json"
    definitions = kubernetes_validate.utils.schema_contents(schemas, version)
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


def test_kustomization_renders_its_objects(rendered):
    name, objects = rendered

    assert {o["kind"] for o in objects} == KUSTOMIZATIONS[name]
    assert {o["metadata"]["name"] for o in objects} <= {"digit-serving", "digit-serving-models"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_objects_match_the_kubernetes_schemas(rendered, version):
    _, objects = rendered
    core = [o for o in objects if o["kind"] != "ServiceMonitor"]

    for manifest in core:
        assert kubernetes_validate.validate(manifest, version, strict=True) == version


def test_schema_check_refuses_a_misspelt_field():
    deployment = of_kind(render("base"), "Deployment")
    broken = copy.deepcopy(deployment)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_servicemonitor_matches_the_prometheus_operator_model():
    monitor = of_kind(render("overlays/production"), "ServiceMonitor")

    parsed = prometheus_operator.ServiceMonitor.model_validate(monitor)

    # The models ignore unknown fields; what they kept must be all there was.
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == monitor


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_inferenceservice_matches_its_schema(version):
    validator = jsonschema.Draft202012Validator(INFERENCE_SERVICE, registry=kubernetes_registry(version))

    assert list(validator.iter_errors(inference_service())) == []


def test_inferenceservice_schema_refuses_a_misspelt_field():
    validator = jsonschema.Draft202012Validator(
        INFERENCE_SERVICE, registry=kubernetes_registry(KUBERNETES_VERSIONS[-1])
    )
    broken = inference_service()
    broken["spec"]["predictor"]["containers"][0]["readinesProbe"] = {}

    assert [e.message for e in validator.iter_errors(broken)] != []


def pod_specs() -> list[tuple[str, dict]]:
    specs = [
        (name, of_kind(render(name), "Deployment")["spec"]["template"]["spec"]) for name in KUSTOMIZATIONS
    ]
    return [*specs, ("kserve", inference_service()["spec"]["predictor"])]


@pytest.mark.parametrize(("name", "pod"), pod_specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_containers_run_as_non_root_on_a_read_only_root(name, pod):
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        assert context["runAsNonRoot"] is True, container["name"]
        assert context["runAsUser"] == 10001, container["name"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"] == {"drop": ["ALL"]}, container["name"]
        assert {"requests", "limits"} <= set(container["resources"]), container["name"]


@pytest.mark.parametrize(("name", "pod"), pod_specs(), ids=lambda v: v if isinstance(v, str) else "")
def test_probes_call_routes_the_app_serves(name, pod):
    paths = set(create_app().openapi()["paths"])
    [server] = pod["containers"]

    probes = [
        server[p]["httpGet"]["path"]
        for p in ("startupProbe", "livenessProbe", "readinessProbe")
        if p in server
    ]

    assert len(probes) >= 2
    assert set(probes) <= paths


def test_model_repository_is_a_volume():
    for name in KUSTOMIZATIONS:
        pod = of_kind(render(name), "Deployment")["spec"]["template"]["spec"]
        [server] = pod["containers"]
        env = {e["name"]: e["value"] for e in server["env"]}
        mount = next(m for m in server["volumeMounts"] if m["mountPath"] == env["SERVE_MODEL_REPOSITORY"])
        assert mount["readOnly"] is True
        assert mount["name"] in {v["name"] for v in pod["volumes"]}


def test_production_overlay_serves_the_claimed_repository():
    objects = render("overlays/production")
    pod = of_kind(objects, "Deployment")["spec"]["template"]["spec"]

    [volume] = [v for v in pod["volumes"] if v["name"] == "model-repository"]
    assert (
        volume["persistentVolumeClaim"]["claimName"]
        == of_kind(objects, "PersistentVolumeClaim")["metadata"]["name"]
    )
    assert "initContainers" not in pod


def test_service_hpa_pdb_and_monitor_point_at_the_deployment():
    objects = render("overlays/production")
    deployment, service = of_kind(objects, "Deployment"), of_kind(objects, "Service")
    selector = deployment["spec"]["selector"]["matchLabels"]
    port_names = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}

    assert service["spec"]["selector"] == selector
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert (
        of_kind(objects, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"]
        == deployment["metadata"]["name"]
    )
    assert of_kind(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    monitor = of_kind(objects, "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
