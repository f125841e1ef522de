"""The Helm chart: helm lint and helm template for every scenario under ci/, the rendered objects
validated offline against the Kubernetes schemas (kubernetes-validate's bundled ones) and the
Prometheus Operator's CRD schemas, the restricted Pod Security Standard, values.schema.json
rejecting wrong values, and the rendered config accepted by the bridge's own loader."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from bridge.settings import (
    ClusterSettings,
    ConnectionSettings,
    CredentialsSettings,
    KafkaSettings,
    PublisherSettings,
    ReconnectSettings,
    SchemaRegistrySettings,
    Settings,
    ShutdownSettings,
    TlsSettings,
    load_settings,
)
from bridge.sharding import owned_connections
from tests.deploy.tools import (
    CHART,
    KUBE_VERSIONS,
    MONITORING,
    NAMESPACE,
    helm_template,
    helm_template_error,
    operator_crd_schema,
    run,
    tool,
    tools_required,
)

try:
    import kubernetes_validate
except ImportError:  # an install from before it was a test dependency
    if tools_required():
        raise
    pytest.skip(
        "kubernetes-validate is not installed: pip install -e '.[test]'", allow_module_level=True
    )

SCENARIOS: dict[str, Path | None] = {"default": None} | {
    path.name.removesuffix("-values.yaml"): path for path in sorted((CHART / "ci").glob("*.yaml"))
}
MONITORING_KINDS = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules"}

Doc = dict[str, Any]


def render(scenario: str, *sets: str, kube_version: str = KUBE_VERSIONS[-1]) -> list[Doc]:
    files = [f] if (f := SCENARIOS[scenario]) else []
    return helm_template(*files, sets=sets, kube_version=kube_version)


def values_of(scenario: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    if (file := SCENARIOS[scenario]) is not None:
        values = merge(values, yaml.safe_load(file.read_text()))
    return values


def merge(base: Any, override: Any) -> Any:
    """Helm's values merge: maps merge, everything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value)
        return out
    return override


def only(docs: list[Doc], kind: str, name_suffix: str = "") -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind}{name_suffix}, got {len(found)}"
    return found[0]


def config_map(docs: list[Doc]) -> Doc:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
    return cm


def workload_kind(values: dict[str, Any]) -> str:
    """Static mode: a StatefulSet (the pod ordinal is the shard index); group mode: a
    Deployment."""
    group = (values["config"].get("cluster") or {}).get("mode") == "group"
    return "Deployment" if group else "StatefulSet"


def workload(docs: list[Doc]) -> Doc:
    (found,) = [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]
    return found


def pod_spec(docs: list[Doc]) -> Doc:
    spec: Doc = workload(docs)["spec"]["template"]["spec"]
    return spec


# -- helm lint / template + schema validation ------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint(scenario: str) -> None:
    args = [tool("helm"), "lint", str(CHART), "--strict", "--kube-version", KUBE_VERSIONS[-1]]
    if (file := SCENARIOS[scenario]) is not None:
        args += ["-f", str(file)]
    result = run(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def validate_kubernetes(doc: Doc, kube_version: str) -> None:
    if doc["kind"] in MONITORING_KINDS:
        schema = operator_crd_schema(MONITORING_KINDS[doc["kind"]])
        jsonschema.Draft7Validator(schema).validate(doc)
    else:
        kubernetes_validate.validate(doc, kube_version, strict=True)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_objects_validate(scenario: str, kube_version: str) -> None:
    docs = render(scenario, kube_version=kube_version)
    kinds = sorted(d["kind"] for d in docs)
    for doc in docs:
        try:
            validate_kubernetes(doc, kube_version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            where = "/".join(str(p) for p in getattr(exc, "path", ()))
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} ({kube_version}): {exc} {where}")
    values = values_of(scenario)
    expected = {workload_kind(values), "Service", "ConfigMap", "ServiceAccount"}
    expected |= {"PodDisruptionBudget"}
    expected |= {"NetworkPolicy"} if values["networkPolicy"]["enabled"] else set()
    expected |= {"ServiceMonitor"} if values["serviceMonitor"]["enabled"] else set()
    expected |= {"PrometheusRule"} if values["prometheusRule"]["enabled"] else set()
    expected |= {"Secret"} if values["secrets"] else set()
    assert set(kinds) == expected
    assert kinds.count("ConfigMap") == (2 if values["dashboard"]["enabled"] else 1)
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "exchange-bridge"
        assert labels["helm.sh/chart"].startswith("exchange-bridge-")


def test_validation_is_strict() -> None:
    """The validators reject what the API server would: a misspelt field, a CRD field of the
    wrong type. (Otherwise the validation above could pass by accepting anything.)"""
    docs = render("default")
    statefulset = copy.deepcopy(only(docs, "StatefulSet"))
    statefulset["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(statefulset, KUBE_VERSIONS[-1])
    monitor = copy.deepcopy(only(docs, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        validate_kubernetes(monitor, KUBE_VERSIONS[-1])
    rule = copy.deepcopy(only(docs, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "three minutes"
    with pytest.raises(jsonschema.ValidationError):
        validate_kubernetes(rule, KUBE_VERSIONS[-1])


# -- values.schema.json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["replicaCount=-1"], "/replicaCount"),
        (["replicaCount=0"], "/replicaCount"),
        (["replicaCount=two"], "/replicaCount"),
        (["replicas=3"], "'replicas' not allowed"),
        (["config.kafka.bootstrap_server=kafka:9092"], "'bootstrap_server' not allowed"),
        (["config.metrics.port=9000"], "'metrics' not allowed"),
        (["config.shard.count=2"], "'shard' not allowed"),
        (["config.cluster.mode=swarm"], "/config/cluster/mode"),
        (["config.cluster.session_timeout_ms=10"], "/config/cluster/session_timeout_ms"),
        (["config.cluster.handover_timeout_seconds=0"], "handover_timeout_seconds"),
        (["config.cluster.leader=me"], "'leader' not allowed"),
        (["config.connections[0].exchange=binance"], "/config/connections/0/exchange"),
        (["config.connections[0].url=https://ws.okx.com"], "/config/connections/0/url"),
        (["config.connections[0].credentials.api_key=${OKX_KEY}"], "credentials/api_key"),
        (["config.publisher.overflow=wait"], "/config/publisher/overflow"),
        (["config.publisher.buffer_max_records=0"], "buffer_max_records"),
        (["image.pullPolicy=Sometimes"], "/image/pullPolicy"),
        (["service.port=70000"], "/service/port"),
        (["prometheusRule.disabled={BridgeIsSad}"], "/prometheusRule/disabled/0"),
        (["prometheusRule.overrides.BridgeIsSad.for=5m"], "invalid propertyName 'BridgeIsSad'"),
        (["serviceMonitor.interval=often"], "/serviceMonitor/interval"),
        (["livenessProbe.exec=true"], "'exec' not allowed"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)
def test_schema_rejects_wrong_values(sets: list[str], message: str) -> None:
    args = [a for s in sets for a in ("--set", s)]
    error = helm_template_error(*args)
    assert "don't meet the specifications of the schema" in error
    assert message in error


def test_template_rejects_inconsistent_credentials(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    conn = values_of("default")["config"]["connections"][0]
    conn["credentials"] = {"api_key": "okx-api-key"}
    values.write_text(yaml.safe_dump({"config": {"connections": [conn]}}))
    assert "set secrets or existingSecret" in helm_template_error("-f", str(values))
    other = helm_template_error("-f", str(values), "--set", "secrets.other=x")
    assert 'credentials.api_key names the key "okx-api-key", which is not in secrets' in other
    both = helm_template_error("--set", "existingSecret=mine", "--set", "secrets.k=v")
    assert "set either existingSecret or secrets, not both" in both


def test_schema_follows_the_bridge_settings() -> None:
    """values.schema.json describes config with the bridge's own field names, section by
    section, so that a new bridge setting or a renamed one cannot go unnoticed in the chart."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]

    def fields(model: type[BaseModel], *chart_managed: str) -> set[str]:
        return set(model.model_fields) - set(chart_managed)

    def props(node: dict[str, Any]) -> set[str]:
        assert node["additionalProperties"] is False
        return set(node["properties"])

    assert props(config) == fields(Settings, "metrics", "shard")
    sections: dict[str, type[BaseModel]] = {
        "kafka": KafkaSettings,
        "schema_registry": SchemaRegistrySettings,
        "publisher": PublisherSettings,
        "shutdown": ShutdownSettings,
        "cluster": ClusterSettings,
    }
    for name, model in sections.items():
        assert props(config["properties"][name]) == fields(model), name
    connection = config["properties"]["connections"]["items"]
    assert props(connection) == fields(ConnectionSettings)
    assert props(connection["properties"]["credentials"]) == fields(CredentialsSettings)
    assert props(connection["properties"]["reconnect"]) == fields(ReconnectSettings)
    assert props(connection["properties"]["tls"]) == fields(TlsSettings)


# -- pods ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_restricted_pod_security_standard(scenario: str) -> None:
    """The restricted profile of the Pod Security Standards, field by field."""
    spec = pod_spec(render(scenario))
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    for volume in spec["volumes"]:
        kinds = set(volume) - {"name"}
        assert kinds <= {"configMap", "secret", "emptyDir", "projected"}, volume
    for container in spec["containers"] + spec.get("initContainers", []):
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"]
        assert not ctx["capabilities"].get("add")
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["runAsNonRoot"] is True
        assert not ctx.get("privileged")
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault"
        assert not any("hostPort" in p for p in container.get("ports", []))
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts  # the only writable place
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pods_take_shard_index_and_count(scenario: str) -> None:
    """Static mode: the StatefulSet's pods take their shard index from the ordinal and the
    count from replicaCount. Group mode: a Deployment that rolls a new pod in before an old
    one goes, and no shard anywhere."""
    docs = render(scenario)
    values = values_of(scenario)
    kind = workload_kind(values)
    workload = only(docs, kind)
    assert workload["spec"]["replicas"] == values["replicaCount"]
    (container,) = pod_spec(docs)["containers"]
    env = {e["name"]: e for e in container["env"]}
    config = yaml.safe_load(config_map(docs)["data"]["config.yaml"])
    if kind == "StatefulSet":
        assert workload["spec"]["serviceName"] == only(docs, "Service")["metadata"]["name"]
        index = env["BRIDGE_SHARD__INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert index == "metadata.labels['apps.kubernetes.io/pod-index']"
        assert config["shard"] == {"count": values["replicaCount"]}
    else:
        assert workload["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
        assert "BRIDGE_SHARD__INDEX" not in env and "shard" not in config
        assert config["cluster"]["mode"] == "group"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert config["metrics"] == {"port": values["service"]["port"]}
    port = container["ports"][0]
    assert port == {
        "name": "metrics",
        "containerPort": values["service"]["port"],
        "protocol": "TCP",
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["resources"]["limits"]["memory"]


def test_group_mode_grace_period_covers_the_handover_and_the_flush() -> None:
    """A stopping pod in group mode waits for its connections' new holders, then flushes:
    Kubernetes must not kill it before both deadlines have passed."""
    error = helm_template_error(
        "--set", "config.cluster.mode=group", "--set", "terminationGracePeriodSeconds=25"
    )
    assert "must be more than config.cluster.handover_timeout_seconds" in error
    assert "(25 s)" in error  # the bridge's defaults: 15 s handover, 10 s flush
    longer = ["config.cluster.mode=group", "config.cluster.handover_timeout_seconds=40"]
    error = helm_template_error(*(a for s in longer for a in ("--set", s)))
    assert "(50 s)" in error
    spec = pod_spec(render("default", *longer, "terminationGracePeriodSeconds=51"))
    assert spec["terminationGracePeriodSeconds"] == 51
    # static mode stops without handing anything over: the check is group mode's
    spec = pod_spec(render("default", "terminationGracePeriodSeconds=5"))
    assert spec["terminationGracePeriodSeconds"] == 5


def test_grace_period_check_uses_the_bridge_defaults() -> None:
    """The chart states the two deadlines' defaults (a template cannot read the bridge's);
    they must be the bridge's."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    flush = ShutdownSettings.model_fields["flush_timeout_seconds"].default
    handover = ClusterSettings.model_fields["handover_timeout_seconds"].default
    assert f"$shutdown.flush_timeout_seconds {flush:g} (hasKey" in helpers
    assert f"$cluster.handover_timeout_seconds {handover:g} (hasKey" in helpers


def test_config_change_rolls_the_pods() -> None:
    def checksum(*sets: str) -> str:
        template = only(render("default", *sets), "StatefulSet")["spec"]["template"]
        return str(template["metadata"]["annotations"]["checksum/config"])

    assert checksum() == checksum()
    assert checksum("replicaCount=2") != checksum()
    assert checksum("config.kafka.bootstrap_servers=other:9092") != checksum()


# -- the rendered config is one the bridge accepts ------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_config_loads_in_the_bridge(scenario: str, tmp_path: Path) -> None:
    """Render, take config.yaml out of the ConfigMap and the credentials out of the Secret (or
    make up the keys an existingSecret must hold), lay them out as the pod would see them, and
    load the config with the bridge's own loader once per pod (shard index)."""
    docs = render(scenario)
    values = values_of(scenario)
    spec = pod_spec(docs)
    (container,) = spec["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config_path = container["args"][container["args"].index("--config") + 1]
    assert mounts["config"]["mountPath"] == config_path
    assert mounts["config"]["subPath"] == "config.yaml"
    text = config_map(docs)["data"]["config.yaml"]

    secrets: dict[str, str] = {}
    if values["secrets"]:
        secret = only(docs, "Secret")
        secrets = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert secrets == values["secrets"]
    refs = re.findall(r"\$\{file:([^}]+)\}", text)
    if refs:
        secret_mount = mounts["secrets"]["mountPath"]
        volume = next(v for v in spec["volumes"] if v["name"] == "secrets")
        expected_secret = values["existingSecret"] or only(docs, "Secret")["metadata"]["name"]
        assert volume["secret"]["secretName"] == expected_secret
        local = tmp_path / "secrets"
        local.mkdir()
        for ref in refs:
            assert ref.startswith(secret_mount + "/"), ref
            key = ref.removeprefix(secret_mount + "/")
            (local / key).write_text(secrets.get(key, f"made-up {key}") + "\n")
        text = text.replace(secret_mount + "/", f"{local}/")
    else:
        assert "secrets" not in mounts
    config_file = tmp_path / "config.yaml"
    config_file.write_text(text)

    plain_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    group_mode = workload_kind(values) == "Deployment"
    owners: list[str] = []
    for index in range(values["replicaCount"]):
        environ = plain_env | {"POD_NAME": f"md-{index}"}
        if not group_mode:
            environ["BRIDGE_SHARD__INDEX"] = str(index)
        settings = load_settings(config_file, environ=environ)
        if group_mode:  # any pod may hold any connection; the group decides which
            assert settings.cluster.mode == "group"
            assert settings.shard.count == 1
            if index == 0:
                owners += [c.name for c in settings.enabled_connections]
        else:
            assert settings.shard.index == index
            assert settings.shard.count == values["replicaCount"]
            owners += [c.name for c in owned_connections(settings)]
        assert settings.metrics.port == values["service"]["port"]
        assert settings.instance_name == (values["config"].get("instance") or f"md-{index}")
        for conn in settings.connections:
            wanted = values_connection(values, conn.name).get("credentials") or {}
            for field, key in wanted.items():
                creds = conn.credentials
                assert creds is not None
                value = getattr(creds, field).get_secret_value()
                assert value == secrets.get(key, f"made-up {key}")
        registry = values["config"].get("schema_registry") or {}
        for field in ("username", "password"):
            if key := registry.get(field):
                value = getattr(settings.schema_registry, field).get_secret_value()
                assert value == secrets.get(key, f"made-up {key}")
        if key := (values["config"].get("kafka") or {}).get("sasl_password"):
            assert settings.kafka.sasl_password is not None
            value = settings.kafka.sasl_password.get_secret_value()
            assert value == secrets.get(key, f"made-up {key}")
    enabled = [c["name"] for c in values["config"]["connections"] if c.get("enabled", True)]
    assert sorted(owners) == sorted(enabled)  # every pod together: each connection once


def values_connection(values: dict[str, Any], name: str) -> dict[str, Any]:
    conns: list[dict[str, Any]] = values["config"]["connections"]
    return next(c for c in conns if c["name"] == name)


# -- networking ------------------------------------------------------------------------------------


def egress_ports(policy: Doc) -> list[set[int | str]]:
    return [{p["port"] for p in rule["ports"]} for rule in policy["spec"]["egress"]]


def test_network_policy_ports_come_from_the_config() -> None:
    policy = only(render("shards"), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    # DNS, Kafka (bootstrap ports), the exchanges (URL ports; wss without a port is 443)
    assert egress_ports(policy) == [{53}, {9092, 9093}, {443, 8443}]
    dns = policy["spec"]["egress"][0]["ports"]
    assert {p["protocol"] for p in dns} == {"UDP", "TCP"}
    registry = only(render("registry"), "NetworkPolicy")
    assert egress_ports(registry) == [{53}, {9092}, {8081}, {8443}]
    assert registry["spec"]["egress"][2]["to"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "schema-registry"
    }
    assert "NetworkPolicy" not in {
        d["kind"] for d in render("default", "networkPolicy.enabled=false")
    }


def test_service_lists_pods_that_are_not_ready() -> None:
    service = only(render("default"), "Service")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["ports"][0]["name"] == "metrics"


# -- monitoring objects ---------------------------------------------------------------------------


def test_monitoring_files_in_the_chart_are_the_same_as_monitoring() -> None:
    for name in ("alerts.yaml", "dashboard.json"):
        ours, chart = MONITORING / name, CHART / "files" / name
        assert chart.read_bytes() == ours.read_bytes(), (
            f"{chart} differs from {ours}: cp {ours} {chart}"
        )


def test_monitoring_objects() -> None:
    docs = render("default")
    monitor = only(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == only(docs, "Service")["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    rule = only(docs, "PrometheusRule")
    alerts = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]  # the file as it is, by default
    dashboard = only(docs, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = dashboard["data"].values()
    assert json.loads(text) == json.loads((MONITORING / "dashboard.json").read_text())


def test_monitoring_off() -> None:
    kinds = {d["kind"] for d in render("monitoring-off")}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert len([d for d in render("monitoring-off") if d["kind"] == "ConfigMap"]) == 1


def test_prometheus_rule_customisation() -> None:
    docs = render("everything")
    rule = only(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert "BridgeExchangeMaintenance" not in rules  # disabled
    assert rules["BridgeReconnectStorm"]["for"] == "10m"
    assert rules["BridgeReconnectStorm"]["labels"] == {
        "severity": "critical",
        "team": "market-data",
    }
    assert rules["BridgeSubscriptionSilent"]["expr"].startswith("time() - ")
    # thresholds follow config.publisher (20000 records, 32 MiB)
    assert "/ 20000 " in rules["BridgeBufferNearFull"]["expr"]
    assert "/ 33554432" in rules["BridgeBufferNearFull"]["expr"]
    assert "100000" not in rules["BridgeBufferNearFull"]["expr"]
    assert rules["BridgeNotReady"]["annotations"]["runbook_url"] == (
        "https://docs.example.com/exchange-bridge/OPERATIONS#bridgenotready"
    )
    # group mode's thresholds from prometheusRule.cluster, in every arm of the expression
    assert rules["BridgeClusterRebalanceStorm"]["expr"].endswith("[10m])) > 25")
    for alert, limit in (("BridgeClusterHolderLost", 1), ("BridgeClusterReleaseClosed", 2)):
        assert rules[alert]["expr"].count(f" > {limit}\n") == 2, rules[alert]["expr"]
        assert " > 0" not in rules[alert]["expr"]


def test_rebalance_threshold_grows_with_the_group() -> None:
    """A rolling upgrade makes two rebalances per pod (its replacement joins, it leaves): by
    default the storm threshold stays above that for the release's replicaCount."""

    def threshold(*sets: str) -> int:
        rule = only(render("default", *sets), "PrometheusRule")
        (storm,) = [
            r
            for g in rule["spec"]["groups"]
            for r in g["rules"]
            if r["alert"] == "BridgeClusterRebalanceStorm"
        ]
        return int(storm["expr"].rsplit(" > ", 1)[1])

    assert threshold() == 10  # the file's own number
    assert threshold("replicaCount=2") == 10
    assert threshold("replicaCount=8") == 22
    assert threshold("replicaCount=8", "prometheusRule.cluster.rebalances=40") == 40


def test_prometheus_rule_groups_pass_promtool(tmp_path: Path) -> None:
    for scenario in ("default", "everything"):
        rule = only(render(scenario), "PrometheusRule")
        rules_file = tmp_path / f"{scenario}.yaml"
        rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        run(tool("promtool"), "check", "rules", str(rules_file))


def test_alert_defaults_match_the_bridge() -> None:
    """alerts.yaml states the buffer limits' defaults (a rules file cannot read the config);
    they must be the bridge's."""
    alerts = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    (buffer,) = [
        r for g in alerts["groups"] for r in g["rules"] if r["alert"] == "BridgeBufferNearFull"
    ]
    records = PublisherSettings.model_fields["buffer_max_records"].default
    size = PublisherSettings.model_fields["buffer_max_bytes"].default
    assert f"bridge_buffer_records / {records} " in buffer["expr"]
    assert buffer["expr"].count(f"bridge_buffer_bytes / {size}") == 2


# -- documentation ---------------------------------------------------------------------------------


def leaf_keys(values: Any, prefix: str = "") -> set[str]:
    """Dotted value names down to the level the README documents: a map whose keys are the
    user's (labels, secrets...) or a list counts as one value."""
    if not isinstance(values, dict) or not values or prefix in FREE_FORM:
        return {prefix}
    keys: set[str] = set()
    for key, value in values.items():
        keys |= leaf_keys(value, f"{prefix}.{key}" if prefix else key)
    return keys


FREE_FORM = {
    "config",
    "podSecurityContext",
    "securityContext",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "dashboard.labels",
}


def test_readme_lists_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    table = readme.split("## Values", 1)[1].split("### Alerts", 1)[0]
    documented = set(re.findall(r"^\| `([A-Za-z0-9_.\[\]]+)` \|", table, re.MULTILINE))
    assert leaf_keys(values) - documented == set(), "values missing from the README table"
    stale = {k for k in documented - leaf_keys(values) if not k.startswith("config.")}
    assert stale == set(), "README documents values that do not exist"


def test_notes_render(tmp_path: Path) -> None:
    """NOTES.txt, which helm template leaves out (and helm install --dry-run needs a cluster
    for): a copy of the chart renders it through tpl into a ConfigMap."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "files" / "NOTES.txt")
    (chart / "templates" / "notes-render.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
        '  NOTES.txt: {{ tpl (.Files.Get "files/NOTES.txt") . | toJson }}\n'
    )
    for scenario in ("default", "shards", "monitoring-off", "group"):
        args = [tool("helm"), "template", "md", str(chart), "--namespace", NAMESPACE]
        args += ["--kube-version", KUBE_VERSIONS[-1], "--show-only", "templates/notes-render.yaml"]
        if (file := SCENARIOS[scenario]) is not None:
            args += ["-f", str(file)]
        notes = yaml.safe_load(run(*args).stdout)["data"]["NOTES.txt"]
        values = values_of(scenario)
        replicas = values["replicaCount"]
        port = values["service"]["port"]
        if workload_kind(values) == "Deployment":
            group_id = values["config"]["cluster"]["group_id"]
            assert f"group mode: {replicas} pods in the consumer group {group_id}" in notes
            assert f"port-forward deployment/md-exchange-bridge {port}" in notes
            assert "shard" not in notes
        else:
            assert f"{replicas} shard{'s' if replicas > 1 else ''} (one pod each)" in notes
            assert f"port-forward pod/md-exchange-bridge-0 {port}" in notes
        assert ("No ServiceMonitor" in notes) != values["serviceMonitor"]["enabled"]
