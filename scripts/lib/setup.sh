# shellcheck shell=bash
# The test environment of dw, as functions: the packages, a Docker engine that answers, the
# workflow base image built offline, and a local registry that serves it.
#
# Source this file from a script that runs with `set -euo pipefail`, then call
# `setup_test_environment` (or the steps one by one). Sourcing it does nothing but define
# functions and variables. scripts/test and scripts/bench both use it.
#
# Every step is idempotent: it checks first and only acts when something is missing.

# Sourced twice (scripts/bench sourcing it next to scripts/test), the readonly lines would fail.
[[ -z "${DW_SETUP_SH_LOADED:-}" ]] || return 0
DW_SETUP_SH_LOADED=1

DW_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly DW_REPO_ROOT

# What the tests are given (exported by export_test_environment).
DW_TEST_IMAGE="${DW_TEST_IMAGE:-dw-test/workflow-generic-image:v0.0.4}"
DW_TEST_REGISTRY="${DW_TEST_REGISTRY:-127.0.0.1:5000}"
readonly DW_REGISTRY_REPOSITORY=duo-workflow/workflow-generic-image
readonly DW_REGISTRY_TAG=v0.0.4

readonly DW_TARGET_DIR="$DW_REPO_ROOT/target"
readonly DW_REGISTRY_DIR="$DW_TARGET_DIR/registry"
readonly DW_DOCKERD_DIR="$DW_TARGET_DIR/dockerd"

readonly DW_ENGINE_START_TIMEOUT_SECONDS=60
readonly DW_REGISTRY_START_TIMEOUT_SECONDS=30

readonly DOCKER_MANIFEST_V2=application/vnd.docker.distribution.manifest.v2+json

# command the set-up runs : Debian package that provides it
readonly DW_REQUIRED_COMMANDS=(
    curl:curl
    docker:docker.io
    docker-registry:docker-registry
    mmdebstrap:mmdebstrap
    setsid:util-linux
)

say() {
    echo "==> $*"
}

die() {
    echo "error: $*" >&2
    exit 1
}

# --- 1. packages -------------------------------------------------------------------------

# Prints the package of each COMMAND:PACKAGE entry whose command is missing.
missing_packages() {
    local entry
    for entry in "$@"; do
        command -v "${entry%%:*}" >/dev/null || echo "${entry#*:}"
    done
}

# Installs the packages of the commands the tests need, and of any further COMMAND:PACKAGE
# entries given (scripts/bench adds its own).
# shellcheck disable=SC2120 # the extra entries are optional; scripts/test passes none
ensure_packages() {
    local missing
    mapfile -t missing < <(missing_packages "${DW_REQUIRED_COMMANDS[@]}" "$@")
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "packages: all present"
        return 0
    fi
    [[ "$EUID" -eq 0 ]] ||
        die "missing packages: ${missing[*]}; install them with \`sudo apt-get install ${missing[*]}\` and run again"
    say "packages: installing ${missing[*]}"
    # A stale or unreachable extra source must not stop the install of Debian's packages.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
        echo "warning: apt-get update reported errors; trying to install anyway" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed: check that Debian's mirror is reachable (apt-get update)"
}

# --- 2. Docker engine --------------------------------------------------------------------

engine_answers() {
    docker info >/dev/null 2>&1
}

# Polls CHECK (a command) once a second until it succeeds or TIMEOUT seconds have passed.
wait_until() {
    local timeout="$1"
    shift
    local deadline=$((SECONDS + timeout))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

ensure_docker_engine() {
    if engine_answers; then
        say "docker engine: answers"
        return 0
    fi
    [[ "$EUID" -eq 0 ]] ||
        die "the Docker engine does not answer \`docker info\` and only root can start dockerd: start Docker (or add your user to the docker group) and run again"
    command -v dockerd >/dev/null ||
        die "the Docker engine does not answer and dockerd is not installed: run \`apt-get install docker.io\`"
    mkdir -p "$DW_DOCKERD_DIR"
    local log="$DW_DOCKERD_DIR/dockerd.log"
    say "docker engine: not answering; starting dockerd (log: ${log#"$DW_REPO_ROOT"/})"
    setsid nohup dockerd >>"$log" 2>&1 </dev/null &
    wait_until "$DW_ENGINE_START_TIMEOUT_SECONDS" engine_answers ||
        die "dockerd did not answer \`docker info\` within ${DW_ENGINE_START_TIMEOUT_SECONDS}s; see $log"
    say "docker engine: started"
}

# --- 3. base image -----------------------------------------------------------------------

image_inputs_label() {
    docker image inspect --format '{{index .Config.Labels "dev.dw.image-inputs"}}' "$1" 2>/dev/null
}

ensure_base_image() {
    local wanted current
    wanted="$("$DW_REPO_ROOT/images/build" --inputs-hash)"
    current="$(image_inputs_label "$DW_TEST_IMAGE" || true)"
    if [[ "$current" == "$wanted" ]]; then
        say "base image: $DW_TEST_IMAGE is up to date"
        return 0
    fi
    if [[ -z "$current" ]]; then
        say "base image: $DW_TEST_IMAGE is missing; building it (images/build)"
    else
        say "base image: $DW_TEST_IMAGE was built from other inputs; rebuilding it (images/build)"
    fi
    "$DW_REPO_ROOT/images/build" --tag "$DW_TEST_IMAGE"
}

# --- 4. local registry -------------------------------------------------------------------

registry_url() {
    echo "http://$DW_TEST_REGISTRY"
}

# Prints the HTTP status of GET /v2/, or nothing when no one listens.
registry_status() {
    curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$(registry_url)/v2/" 2>/dev/null || true
}

registry_answers() {
    [[ "$(registry_status)" == 200 ]]
}

write_registry_config() {
    mkdir -p "$DW_REGISTRY_DIR/data"
    cat >"$DW_REGISTRY_DIR/config.yml" <<EOF
# Written by scripts/lib/setup.sh: dw's test registry, loopback only, no auth.
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $DW_REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $DW_TEST_REGISTRY
EOF
}

ensure_local_registry() {
    local status
    status="$(registry_status)"
    if [[ "$status" == 200 ]]; then
        say "registry: $DW_TEST_REGISTRY answers"
        return 0
    fi
    [[ "$status" == 000 || -z "$status" ]] ||
        die "something that is not a registry without auth listens on $DW_TEST_REGISTRY (GET /v2/ answered HTTP $status): stop it, then run again"
    write_registry_config
    local log="$DW_REGISTRY_DIR/registry.log"
    say "registry: starting docker-registry on $DW_TEST_REGISTRY (log: ${log#"$DW_REPO_ROOT"/})"
    # setsid + nohup: the registry outlives this script, so a later session can reuse it.
    setsid nohup docker-registry serve "$DW_REGISTRY_DIR/config.yml" >>"$log" 2>&1 </dev/null &
    echo "$!" >"$DW_REGISTRY_DIR/registry.pid"
    wait_until "$DW_REGISTRY_START_TIMEOUT_SECONDS" registry_answers ||
        die "docker-registry did not answer $(registry_url)/v2/ within ${DW_REGISTRY_START_TIMEOUT_SECONDS}s; see $log"
}

# Stops the registry that ensure_local_registry started (for scripts/bench and by hand).
stop_local_registry() {
    local pid_file="$DW_REGISTRY_DIR/registry.pid" pid
    [[ -f "$pid_file" ]] || return 0
    pid="$(cat "$pid_file")"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == docker-registry ]]; then
        kill "$pid"
    fi
    rm -f "$pid_file"
}

# --- 5. image in the registry ------------------------------------------------------------

registry_image_ref() {
    echo "$DW_TEST_REGISTRY/$DW_REGISTRY_REPOSITORY:$DW_REGISTRY_TAG"
}

# Prints the digest the registry serves for the tag, or nothing when it has none.
registry_manifest_digest() {
    curl -fsS --max-time 10 --head \
        -H "Accept: $DOCKER_MANIFEST_V2" \
        "$(registry_url)/v2/$DW_REGISTRY_REPOSITORY/manifests/$DW_REGISTRY_TAG" 2>/dev/null |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }' || true
}

# True when the engine recorded that this very image was pushed with the digest the registry serves.
registry_has_image() {
    local digest
    digest="$(registry_manifest_digest)"
    [[ -n "$digest" ]] || return 1
    docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$(registry_image_ref)" 2>/dev/null |
        grep -qxF "$DW_TEST_REGISTRY/$DW_REGISTRY_REPOSITORY@$digest"
}

ensure_image_in_registry() {
    local ref
    ref="$(registry_image_ref)"
    docker tag "$DW_TEST_IMAGE" "$ref"
    if registry_has_image; then
        say "registry: $ref is up to date"
        return 0
    fi
    say "registry: pushing $ref"
    docker push --quiet "$ref" >/dev/null ||
        die "docker push $ref failed: is the registry at $(registry_url) running? (see $DW_REGISTRY_DIR/registry.log)"
}

# --- all of it ---------------------------------------------------------------------------

# The executor is mounted into containers built from any image, so it is linked statically.
build_static_agent() {
    local host_triple
    host_triple="$(rustc -vV | sed -n 's/^host: //p')"
    say "cargo build --release -p dw-agent --target $host_triple (static)"
    (cd "$DW_REPO_ROOT" &&
        RUSTFLAGS='-C target-feature=+crt-static' \
            cargo build --quiet --release --locked -p dw-agent --target "$host_triple") ||
        die "building the static dw-agent failed (above)"
    DW_AGENT_BIN="$DW_REPO_ROOT/target/$host_triple/release/dw-agent"
    export DW_AGENT_BIN
}

export_test_environment() {
    export DW_TEST_IMAGE DW_TEST_REGISTRY
}

setup_test_environment() {
    ensure_packages
    ensure_docker_engine
    ensure_base_image
    ensure_local_registry
    ensure_image_in_registry
    export_test_environment
}
