#!/usr/bin/env bash
# Install, without root, the tools tests/deploy runs (`make tools`; `make test` runs it first):
#
#   * helm, from PATH when present; otherwise built once with `go install` from the Go module
#     proxy (with the same -ldflags as helm's own Makefile, so `helm version` and the default
#     Kubernetes version are right) into $BIN;
#   * prometheus and promtool, from PATH when both are there; otherwise Debian's prometheus
#     package, fetched with `apt-get download` (no root needed) and unpacked with `dpkg-deb -x`
#     into $BIN. Its two binaries need nothing but libc, so they run from there. When the
#     system's package lists are missing or out of date (a fresh container, a superseded
#     version), a private copy of the lists is fetched into a temp dir, still without root;
#   * the Prometheus Operator's Go module (its CRD YAML validates ServiceMonitor and
#     PrometheusRule), downloaded into the Go module cache.
#
# $BIN is ${XDG_CACHE_HOME:-~/.cache}/exchange-bridge/bin; tests/deploy/tools.py looks there
# after PATH. Idempotent and quick (well under a second) when everything is cached. Needs go
# (helm, CRDs) and apt-get + dpkg-deb (prometheus), as the README's prerequisites say.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
# Kubernetes libraries helm $HELM_VERSION is built with (its default --kube-version).
HELM_K8S_MAJOR=1
HELM_K8S_MINOR=37
# Keep in step with tests/deploy/tools.py.
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0

BIN="${XDG_CACHE_HOME:-$HOME/.cache}/exchange-bridge/bin"

# Scratch space; also where the go commands run: outside any go.mod.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# version_of PROGRAM: "2.42.0+ds" from "prometheus, version 2.42.0+ds (branch: ...)" (awk, not
# head: head would exit early and SIGPIPE the writer under pipefail).
version_of() { "$1" --version 2>&1 | awk 'NR == 1 { print $3 }'; }

need_go() {
    command -v go >/dev/null 2>&1 && return 0
    echo "go is needed for $1: install Go (see the README's prerequisites), then run make tools" >&2
    exit 1
}

install_helm() {
    if command -v helm >/dev/null 2>&1; then
        echo "helm: $(command -v helm) ($(helm version --short 2>/dev/null || echo '?'))"
        return
    fi
    if [[ -x "$BIN/helm" ]] && "$BIN/helm" version --short 2>/dev/null | grep -qx "${HELM_VERSION}"; then
        echo "helm: $BIN/helm (${HELM_VERSION}, cached)"
        return
    fi
    need_go "building helm"
    echo "helm: building ${HELM_VERSION} with go install into $BIN (about 5 CPU-minutes when" \
        "Go's caches are empty, seconds when they are warm)"
    mkdir -p "$BIN"
    local start=$SECONDS pkg
    local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X ${pkg}.k8sVersionMajor=${HELM_K8S_MAJOR} -X ${pkg}.k8sVersionMinor=${HELM_K8S_MINOR}"
    done
    (cd "$WORK" && GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-trimpath \
        go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")
    echo "helm: built in $((SECONDS - start)) s: $("$BIN/helm" version --short)"
}

install_prometheus() {
    if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
        echo "prometheus, promtool: $(command -v prometheus), $(command -v promtool)" \
            "($(version_of prometheus))"
        return
    fi
    if [[ -x "$BIN/prometheus" && -x "$BIN/promtool" ]] \
        && "$BIN/prometheus" --version >/dev/null 2>&1 && "$BIN/promtool" --version >/dev/null 2>&1; then
        echo "prometheus, promtool: $BIN ($(version_of "$BIN/prometheus"), cached)"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
        echo "prometheus and promtool are not on PATH, and apt-get and dpkg-deb (to fetch" \
            "Debian's package without root) are not available: install them, or put" \
            "prometheus and promtool on PATH" >&2
        exit 1
    fi
    echo "prometheus, promtool: fetching Debian's package into $BIN (about 20 MB)"
    local start=$SECONDS
    # As root apt would hand the download to its _apt user, who cannot write to our temp dir.
    local apt=(apt-get -q -o "APT::Sandbox::User=$(id -un)")
    if ! (cd "$WORK" && "${apt[@]}" download prometheus); then
        echo "prometheus: the system's package lists do not have it (missing or out of date);" \
            "fetching a private copy of them into a temp dir"
        mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial"
        local private=(-o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache")
        # The lock files of a private copy are ours alone (and /var/lib/apt is root's).
        "${apt[@]}" "${private[@]}" -o Debug::NoLocking=1 update
        (cd "$WORK" && "${apt[@]}" "${private[@]}" download prometheus)
    fi
    dpkg-deb -x "$WORK"/prometheus_*.deb "$WORK/root"
    mkdir -p "$BIN"
    install -m 755 "$WORK/root/usr/bin/prometheus" "$WORK/root/usr/bin/promtool" "$BIN/"
    "$BIN/promtool" --version >/dev/null
    echo "prometheus, promtool: $(version_of "$BIN/prometheus") installed in" \
        "$((SECONDS - start)) s"
}

fetch_crds() {
    need_go "the Prometheus Operator CRDs"
    local dir
    dir=$(cd "$WORK" && go mod download -json "$PROMETHEUS_OPERATOR" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    test -f "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
    echo "Prometheus Operator CRDs: $dir/example/prometheus-operator-crd"
}

install_helm
install_prometheus
fetch_crds
