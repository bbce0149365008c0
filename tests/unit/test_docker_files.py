"""Static checks of the container files: docker/compose.yaml, docker/Dockerfile, .dockerignore.

No Docker engine is needed. The checks tie the files to the code they run: the subcommands and
options exist in the CLI, the probe path is a route of the API, the JanusGraph settings agree
with the dev server's config and with the mixed index gumshoe's schema builds, and the image copies
every package pyproject.toml ships.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from packaging.specifiers import SpecifierSet
from typer.main import get_command

import api.cli
from api.app import create_app
from graph.janusgraph_schema import schema_script

# PyYAML ships no type stubs; importing it this way keeps mypy strict without an ignore comment.
# It is a hard requirement of this module: a missing PyYAML fails collection, loudly.
yaml = importlib.import_module("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEV_SERVER_YAML = DOCKER / "janusgraph" / "conf" / "janusgraph-server.yaml"
DEV_GRAPH_PROPERTIES = DOCKER / "janusgraph" / "conf" / "janusgraph-inmemory.properties"
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}
# graph properties gumshoe's JanusGraph store relies on (GLOBAL_OFFLINE: fixed at graph creation)
GRAPH_KEYS = ("graph.set-vertex-id", "graph.allow-custom-vid-types", "schema.default")
SERVER_KEYS = ("maxContentLength", "evaluationTimeout")

Service = dict[str, Any]


# -- helpers ------------------------------------------------------------------------------------


def interpolate(value: str) -> str:
    """Compose variable interpolation as with an empty environment: defaults, else empty."""
    pattern = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)")
    return pattern.sub(lambda m: m.group(2) or "", value.replace("$$", "\0")).replace("\0", "$")


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "compose.yaml is not a mapping"
    return data


def services() -> dict[str, Service]:
    svcs = compose().get("services")
    assert isinstance(svcs, dict) and svcs, "compose.yaml defines no services"
    return svcs


def environment(service: Service) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: (interpolate(p[1]) if len(p) == 2 else None) for p in pairs}
    return {k: (None if v is None else interpolate(str(v))) for k, v in env.items()}


def depends_on(service: Service) -> dict[str, str]:
    """target -> condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def builds_our_dockerfile(service: Service) -> bool:
    build = service.get("build")
    if build is None:
        return False
    context = COMPOSE.parent / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    return (context / dockerfile).resolve() == DOCKERFILE.resolve()


def argv_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    words = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    return [interpolate(w) for w in words]


def dockerfile_instructions() -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = ""
    for line in text.splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.strip().partition(" ")
        yield keyword.upper(), rest.strip()
        logical = ""


def dockerfile_exec_form(keyword: str) -> list[str]:
    """The last ENTRYPOINT or CMD of the Dockerfile, which must use the JSON exec form."""
    values = [rest for kw, rest in dockerfile_instructions() if kw == keyword]
    assert values, f"the Dockerfile has no {keyword}"
    parsed = json.loads(values[-1])
    assert isinstance(parsed, list), f"{keyword} is not in exec form"
    return [str(v) for v in parsed]


def stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """[(FROM image with ARG defaults substituted, instructions of that stage)]."""
    args: dict[str, str] = {}
    result: list[tuple[str, list[tuple[str, str]]]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and not result and "=" in rest:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], image)
            result.append((image, []))
        elif result:
            result[-1][1].append((keyword, rest))
    assert result, "the Dockerfile has no FROM"
    return result


def cli_commands() -> dict[str, Any]:
    """The CLI's subcommands (typer bundles its own click, so duck-typed)."""
    commands = getattr(get_command(api.cli.app), "commands", None)
    assert isinstance(commands, dict) and commands, "api.cli.app is not a group of subcommands"
    return commands


def dockerignore_allows(path: str) -> bool:
    """Docker's rule, simplified: the last pattern matching the path or a parent decides."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    allowed = True
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            allowed = negate
    return allowed


# -- compose ------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec_schema() -> None:
    # check-jsonschema is a test dependency because it vendors the Compose spec JSON schema.
    import check_jsonschema
    import jsonschema

    schema_file = (
        Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    )
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, "\n".join(errors)


def test_compose_file_uses_the_spec_without_a_version_key() -> None:
    assert "version" not in compose(), "`version` is obsolete in the Compose specification"


def test_dependencies_exist_have_healthchecks_and_gate_on_health() -> None:
    svcs = services()
    for name, service in svcs.items():
        for target, condition in depends_on(service).items():
            assert target in svcs, f"{name} depends on undefined service {target!r}"
            check = svcs[target].get("healthcheck") or {}
            assert check.get("test") and not check.get("disable"), (
                f"{name} waits for {target}, which has no healthcheck"
            )
            assert condition == "service_healthy", (
                f"{name} starts when {target} is {condition}, not when it is healthy"
            )


def test_long_running_services_have_healthchecks() -> None:
    for name, service in services().items():
        if service.get("profiles"):
            continue  # on-demand jobs
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_published_ports_bind_to_loopback_only() -> None:
    published = 0
    for name, service in services().items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                spec = interpolate(str(port)).split("/")[0]
                # IP:HOST:CONTAINER (an IPv6 host ip is bracketed); HOST:CONTAINER has no ip
                host_ip = spec.rsplit(":", 2)[0] if spec.count(":") >= 2 else None
            assert host_ip in LOOPBACK, f"{name} publishes {port!r} beyond the loopback interface"
            published += 1
    assert published, "no published ports at all: the API would be unreachable from the host"


def test_janusgraph_graph_properties_match_the_dev_server() -> None:
    env = environment(services()["janusgraph"])
    assert env.get("JANUS_PROPS_TEMPLATE") == "cql-es"
    dev = dict(
        line.split("=", 1)
        for line in DEV_GRAPH_PROPERTIES.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    for key in GRAPH_KEYS:
        assert key in dev, f"the dev graph properties no longer set {key}"
        assert env.get(f"janusgraph.{key}") == dev[key].strip(), (
            f"janusgraph.{key} differs from {DEV_GRAPH_PROPERTIES.name}"
        )
    assert env.get("janusgraph.schema.default") == "none"


def test_janusgraph_server_limits_match_the_dev_server() -> None:
    env = environment(services()["janusgraph"])
    dev_yaml = DEV_SERVER_YAML.read_text(encoding="utf-8")  # a template: @@PORT@@ is not YAML
    for key in SERVER_KEYS:
        found = re.search(rf"^{key}:\s*(\d+)", dev_yaml, re.MULTILINE)
        assert found, f"{DEV_SERVER_YAML.name} no longer sets {key}"
        assert env.get(f"gremlinserver.{key}") == found.group(1), (
            f"gremlinserver.{key} differs from the dev server's {found.group(1)}"
        )


def test_janusgraph_has_the_index_backend_of_gumshoes_mixed_index() -> None:
    env = environment(services()["janusgraph"])
    backends = set(re.findall(r"buildMixedIndex\('(\w+)'\)", schema_script()))
    assert backends, "the schema script builds no mixed index"
    for backend in backends:
        assert env.get(f"janusgraph.index.{backend}.backend") == "elasticsearch"
        assert env.get(f"janusgraph.index.{backend}.hostname") in services()


def test_gumshoe_services_build_the_dockerfile_and_reach_janusgraph() -> None:
    svcs = services()
    ours = {name for name, service in svcs.items() if builds_our_dockerfile(service)}
    assert {"api", "loader"} <= ours, f"api and loader must build {DOCKERFILE}; these do: {ours}"
    for name in ours:
        store = urlparse(environment(svcs[name]).get("GUMSHOE_STORE") or "")
        assert store.scheme == "janusgraph" and store.hostname in svcs, (
            f"{name}'s GUMSHOE_STORE does not name a compose service"
        )
        assert store.hostname in depends_on(svcs[name]), f"{name} does not wait for its store"


def test_loader_runs_only_on_demand_with_read_only_logs() -> None:
    loader = services()["loader"]
    assert loader.get("profiles"), "the loader would start with every `docker compose up`"
    mounts = [interpolate(str(v)) for v in loader.get("volumes") or []]
    assert mounts and all(m.endswith(":ro") for m in mounts), f"writable mounts: {mounts}"
    env = environment(loader)
    assert "AWS_ACCESS_KEY_ID" in env and env["AWS_ACCESS_KEY_ID"] is None, (
        "AWS credentials must be passed through from the shell, not written in the file"
    )


def invocations() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of every gumshoe run the image and the compose file define."""
    entrypoint = dockerfile_exec_form("ENTRYPOINT")
    cmd = dockerfile_exec_form("CMD")
    yield "Dockerfile", entrypoint + cmd
    for name, service in services().items():
        if builds_our_dockerfile(service):
            own_entrypoint = argv_list(service.get("entrypoint"))
            own_cmd = argv_list(service.get("command"))
            if own_entrypoint is not None:  # compose drops the image's CMD with a new entrypoint
                yield name, own_entrypoint + (own_cmd or [])
            else:
                yield name, entrypoint + (cmd if own_cmd is None else own_cmd)


def test_every_gumshoe_invocation_is_a_real_subcommand_with_real_options() -> None:
    commands = cli_commands()
    seen = 0
    for where, argv in invocations():
        assert argv[:1] == ["gumshoe"], f"{where} runs {argv!r}, not gumshoe"
        assert len(argv) > 1, f"{where} runs gumshoe without a subcommand"
        sub = commands.get(argv[1])
        assert sub is not None, f"{where} runs `gumshoe {argv[1]}`; the CLI has {sorted(commands)}"
        options = {o for p in sub.params if p.param_type_name == "option" for o in p.opts}
        for word in argv[2:]:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in options, (
                    f"{where}: `gumshoe {argv[1]}` has no {word}"
                )
        seen += 1
    assert seen >= 3  # the image default, the api and the loader


# -- Dockerfile ---------------------------------------------------------------------------------


def test_every_stage_uses_a_python_that_pyproject_allows() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    allowed = SpecifierSet(pyproject["project"]["requires-python"])
    names = {
        m.group(1)
        for _, rest in dockerfile_instructions()
        if (m := re.search(r" AS (\S+)", rest, re.I))
    }
    for image, _ in stages():
        if image in names:
            continue  # FROM an earlier stage
        found = re.fullmatch(
            r"python:(\d+\.\d+)(?:\.\d+)?-slim-bookworm(?:@sha256:[0-9a-f]{64})?", image
        )
        assert found, f"base image {image!r} is not a pinned python:X.Y-slim-bookworm"
        assert allowed.contains(f"{found.group(1)}.0"), f"{image} is outside {allowed}"


def test_runtime_stage_is_unprivileged_and_probes_a_real_route() -> None:
    final = stages()[-1][1]
    users = [rest for kw, rest in final if kw == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image runs as root"
    probes = [rest for kw, rest in final if kw == "HEALTHCHECK"]
    assert probes, "the runtime stage has no HEALTHCHECK"
    routes = {getattr(r, "path", None) for r in create_app(lambda: pytest.fail("no store")).routes}
    paths = set(re.findall(r"https?://[^/'\"]+(/[\w/-]*)", probes[-1]))
    assert paths and paths <= routes, f"the probe hits {paths}; the API serves {routes}"
    assert "curl" not in probes[-1] and "wget" not in probes[-1], "slim images ship neither"


def test_image_copies_every_package_pyproject_ships() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        d.name
        for d in ROOT.iterdir()
        if (d / "__init__.py").is_file() and any(fnmatch.fnmatchcase(d.name, p) for p in includes)
    }
    assert packages, "pyproject.toml ships no package"
    copied: set[str] = set()
    for keyword, rest in stages()[0][1]:
        if keyword == "COPY" and "--from" not in rest:
            copied.update(p.strip("./") for p in rest.split()[:-1] if not p.startswith("--"))
    needed = packages | {"pyproject.toml", pyproject["project"]["readme"]}
    assert needed <= copied, f"the build stage does not copy {sorted(needed - copied)}"
    ignored = sorted(p for p in needed if not dockerignore_allows(p))
    assert not ignored, f".dockerignore keeps {ignored} out of the build context"
    assert not dockerignore_allows(".venv") and not dockerignore_allows(".git")


# -- authentication and settings ------------------------------------------------------------------


def option_value(argv: list[str], option: str) -> str | None:
    for i, word in enumerate(argv):
        if word == option and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith(f"{option}="):
            return word.split("=", 1)[1]
    return None


def mounted_paths(service: Service) -> set[str]:
    """Container paths of the service's secrets (default /run/secrets/<name>) and volumes."""
    paths: set[str] = set()
    for secret in service.get("secrets") or []:
        if isinstance(secret, str):
            paths.add(f"/run/secrets/{secret}")
        else:
            target = secret.get("target") or secret["source"]
            paths.add(target if target.startswith("/") else f"/run/secrets/{target}")
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            paths.add(volume["target"])
        else:
            paths.add(interpolate(str(volume)).split(":")[1])
    return paths


def test_the_api_is_served_with_a_mounted_credentials_file() -> None:
    """Without --credentials `gumshoe serve` refuses every request: each serve the image and
    compose define names a credentials file, and compose mounts it from a declared secret."""
    served = {where: argv for where, argv in invocations() if argv[1:2] == ["serve"]}
    assert {"Dockerfile", "api"} <= set(served), f"serving: {sorted(served)}"
    for where, argv in served.items():
        assert "--no-auth" not in argv, f"{where} serves without authentication"
        assert option_value(argv, "--credentials"), (
            f"{where} serves without --credentials: every API request would be refused"
        )
    api = services()["api"]
    path = option_value(served["api"], "--credentials")
    assert path in mounted_paths(api), f"the api reads {path}, which nothing mounts"
    declared = compose().get("secrets") or {}
    for secret in api.get("secrets") or []:
        name = secret if isinstance(secret, str) else secret["source"]
        assert name in declared, f"the api mounts undeclared secret {name!r}"
        assert declared[name].get("file") or declared[name].get("environment"), name
    # `docker run` with the file mounted where compose puts it serves the same way
    assert option_value(served["Dockerfile"], "--credentials") == path
    assert not dockerignore_allows("docker/credentials.ini"), "credentials in the build context"


def test_gumshoe_settings_in_compose_are_read_by_the_code() -> None:
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for package in ("api", "graph", "loaders")
        for p in (ROOT / package).rglob("*.py")
    )
    for name, service in services().items():
        if not builds_our_dockerfile(service):
            continue
        for key in environment(service):
            if key.startswith("GUMSHOE_"):
                assert f'"{key}"' in code, f"{name} sets {key}, which gumshoe does not read"
