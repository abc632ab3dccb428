"""Rules from Microsoft's reference for the Container Apps resources (Microsoft.App), checked on
the templates as deployed with worst-case parameters: what ARM would reject (probe ranges, name
rules), and what would deploy but not serve (ingress reachability, zones, colliding runs,
images that drift on a redeploy). Issue 15 numbers in brackets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from blobpi.mirror.cli.main import build_parser
from tests.deploy.bicep_model import decorator, deployment, evaluate, resources, template_scope
from tests.support.processes import ROOT

Templates = dict[str, dict[str, Any]]
REQUIRED = {
    "upstreamUrl": "https://upstream.example/simple/",
    "image": "blobpi:0.1.0",
    "syncImage": "blobpi-sync:0123abc",
}

# Container Apps API, ContainerAppProbe: (minimum, maximum) of each setting.
PROBE_RANGES = {
    "failureThreshold": (1, 10),
    "periodSeconds": (1, 240),
    "initialDelaySeconds": (1, 60),
    "timeoutSeconds": (1, 240),
    "successThreshold": (1, 10),
}
# Resource name rules (Microsoft.App): container apps and jobs 2-32 lower-case letters, digits
# and hyphens, starting with a letter, ending with a letter or digit, no "--"; environments
# 2-60 of the same characters.
NAME_RULES = {
    "Microsoft.App/containerApps": (32, re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")),
    "Microsoft.App/jobs": (32, re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")),
    "Microsoft.App/managedEnvironments": (60, re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")),
}


def _app_resources(templates: Templates, overrides: dict[str, Any]) -> list[tuple[str, Any]]:
    """(type, body evaluated) of every Microsoft.App resource main.bicep deploys; a job loop
    at its largest shard index."""
    found = []
    for template, scope in deployment(templates, {**REQUIRED, **overrides}).values():
        shards = decorator(template.get("parameters", {}).get("syncShards", {}), "maxValue")
        for kind in NAME_RULES:
            for _, resource in resources(template, kind):
                inner = {**scope, "shard": (shards or 1) - 1}
                found.append((kind, {**resource, "name": evaluate(resource["name"], inner)}))
    return found


def test_probes__within_the_container_apps_api_ranges(templates: Templates) -> None:
    """[2] A startup probe's failureThreshold of 24 fails the apps deployment (1-10)."""
    probes = []
    for template in templates.values():
        for _, app in resources(template, "Microsoft.App/containerApps"):
            for container in app["properties"]["template"]["containers"]:
                probes += [evaluate(p, template_scope(template, {})) for p in container["probes"]]
    assert {p["type"] for p in probes} == {"Startup", "Readiness", "Liveness"}
    for probe in probes:
        for setting, (low, high) in PROBE_RANGES.items():
            value = probe.get(setting, low)
            assert low <= value <= high, f"{probe['type']} {setting}={value}: {low}-{high}"
        if probe["type"] in {"Liveness", "Startup"}:
            assert probe.get("successThreshold", 1) == 1
        assert probe["httpGet"]["path"].startswith("/health")


@pytest.mark.parametrize("prefix", ["longest", "Blob42"], ids=["longest", "upper-case"])
def test_names__container_apps_jobs_and_environments_follow_the_name_rules(
    templates: Templates, prefix: str
) -> None:
    """[10] The longest namePrefix main.bicep accepts, or upper case letters, still give
    valid names (the name rule is checked at deployment, after any decorator)."""
    maximum = decorator(templates["main.bicep"]["parameters"]["namePrefix"], "maxLength")
    prefix = "Z" * maximum if prefix == "longest" else prefix
    found = _app_resources(templates, {"namePrefix": prefix})
    assert {kind for kind, _ in found} == set(NAME_RULES)
    for kind, resource in found:
        limit, pattern = NAME_RULES[kind]
        name = resource["name"]
        assert len(name) <= limit and pattern.fullmatch(name) and "--" not in name, (kind, name)


def test_names__the_longest_prefix_is_the_one_the_rules_allow(templates: Templates) -> None:
    """The rule above tests the limit, not a margin: one character more breaks a name."""
    found = _app_resources(templates, {"namePrefix": "z" * 11})
    assert any(len(r["name"]) > NAME_RULES[kind][0] for kind, r in found)


def _environments(templates: Templates) -> dict[str, tuple[str, dict[str, Any]]]:
    """Environment symbol -> (template path, body), for apps deployed into them."""
    return {
        symbol: (path, env)
        for path, template in templates.items()
        for symbol, env in resources(template, "Microsoft.App/managedEnvironments")
    }


def test_ingress__the_server_is_reachable_from_the_vnet(templates: Templates) -> None:
    """[1] In an internal environment, `external: false` is reachable only from inside the
    environment; `external: true` puts the app on the internal load balancer's private address,
    which the wildcard record of the environment's domain points at (an external: false app's
    host name, NAME.internal.DOMAIN, is not even covered by that record)."""
    environments = _environments(templates)
    apps = [
        (path, app)
        for path, template in templates.items()
        for _, app in resources(template, "Microsoft.App/containerApps")
    ]
    assert apps
    for path, app in apps:
        environment = evaluate(app["properties"]["environmentId"], {})[1:].split(".")[0]
        env_path, env = environments[environment]
        assert env_path == path
        internal = env["properties"]["vnetConfiguration"]["internal"]
        ingress = app["properties"]["configuration"]["ingress"]
        assert internal is True and ingress["external"] is True, path
        zone = evaluate(templates[path]["modules"]["zone"]["config"]["params"], {})
        assert zone["wildcardIp"] == f"@{environment}.properties.staticIp"
        assert zone["name"] == f"@{environment}.properties.defaultDomain"


@pytest.mark.parametrize("zoned", [True, False])
def test_zones__a_zone_redundant_server_keeps_a_replica_in_each_zone(
    templates: Templates, zoned: bool
) -> None:
    """[9] Zone redundancy with one replica buys nothing: three replicas, or no zones."""
    apps_template, scope = deployment(templates, {**REQUIRED, "zoneRedundant": zoned})["apps"]
    env = next(resources(apps_template, "Microsoft.App/managedEnvironments"))[1]
    app = next(resources(apps_template, "Microsoft.App/containerApps"))[1]
    replicas = evaluate(app["properties"]["template"]["scale"]["minReplicas"], scope)
    assert evaluate(env["properties"]["zoneRedundant"], scope) is zoned
    assert replicas >= (3 if zoned else 1)


def _period_seconds(cron: str) -> int:
    """Shortest interval of a cron schedule whose minute field is a number and whose hour field
    is `*`, `*/N` or a number (what the template documents)."""
    minute, hour, *rest = cron.split()
    assert minute.isdigit() and all(field == "*" for field in rest), cron
    if hour == "*":
        return 3600
    if hour.startswith("*/"):
        return 3600 * int(hour[2:])
    assert hour.isdigit(), cron
    return 86400


def test_sync__a_run_ends_before_the_next_and_waits_for_a_held_lease(
    templates: Templates,
) -> None:
    """[9] An hourly schedule with a 4 h replicaTimeout and a lease that does not wait: runs
    collide. Each attempt's timeout, times the attempts, fits in the schedule's period; a run
    started meanwhile (the workflow's) waits for the lease, less long than it may run."""
    template, scope = deployment(templates, REQUIRED)["syncJobs"]
    job = next(resources(template, "Microsoft.App/jobs"))[1]["properties"]
    configuration = evaluate(job["configuration"], {**scope, "shard": 0})
    attempts = 1 + configuration["replicaRetryLimit"]
    period = _period_seconds(configuration["scheduleTriggerConfig"]["cronExpression"])
    assert configuration["replicaTimeout"] * attempts <= period
    [container] = job["template"]["containers"]
    # As `blobpi` in the image parses them.
    args = build_parser().parse_args(evaluate(container["args"], scope))
    assert args.command == "sync" and 0 < args.wait < configuration["replicaTimeout"]


def test_images__no_moving_or_empty_default_survives_a_redeploy(templates: Templates) -> None:
    """[10] `blobpi:latest` and an empty syncImage as defaults change what runs on a redeploy
    without the exported variables: the images are required, and empty is refused."""
    main = templates["main.bicep"]["parameters"]
    assert main["image"].get("default") is None and main["syncImage"].get("default") is None
    for module, name in [("modules/apps.bicep", "image"), ("modules/sync-jobs.bicep", "syncImage")]:
        spec = templates[module]["parameters"][name]
        assert spec.get("default") is None and decorator(spec, "minLength") == 1, module
    for path in [*(ROOT / "bicep").rglob("*.bicep*"), *(ROOT / ".github").rglob("*")]:
        if path.is_file():
            assert ":latest" not in path.read_text(), path


def test_images__apps_get_them_from_the_parameters(templates: Templates) -> None:
    found = {
        kind: resource
        for kind, resource in _app_resources(templates, {})
        if kind != "Microsoft.App/managedEnvironments"
    }
    app = found["Microsoft.App/containerApps"]["properties"]["template"]["containers"][0]
    job = found["Microsoft.App/jobs"]["properties"]["template"]["containers"][0]
    assert app["image"].endswith("/${image}") and job["image"].endswith("/${syncImage}")


def test_container_apps__required_settings_and_enums(templates: Templates) -> None:
    """Ingress transport auto/http/http2/tcp with a target port; a job's trigger type
    Manual/Schedule/Event with the matching configuration and a replicaTimeout; every container
    names its image and resources; probe types Liveness/Readiness/Startup."""
    found = _app_resources(templates, {})
    apps = [r for kind, r in found if kind == "Microsoft.App/containerApps"]
    jobs = [r for kind, r in found if kind == "Microsoft.App/jobs"]
    assert apps and jobs
    for app in apps:
        ingress = app["properties"]["configuration"]["ingress"]
        assert ingress["transport"] in {"auto", "http", "http2", "tcp"}
        assert 1 <= ingress["targetPort"] <= 65535
    for job in jobs:
        configuration = job["properties"]["configuration"]
        trigger = configuration["triggerType"]
        assert trigger in {"Manual", "Schedule", "Event"}
        key = {"Manual": "manualTriggerConfig", "Schedule": "scheduleTriggerConfig"}.get(trigger)
        assert key is None or key in configuration
        assert "replicaTimeout" in configuration
    for resource in apps + jobs:
        for container in resource["properties"]["template"]["containers"]:
            assert container["name"] and container["image"] and container["resources"]
            types = {probe["type"] for probe in container.get("probes", [])}
            assert types <= {"Liveness", "Readiness", "Startup"}
