#!/usr/bin/env bash
# Provision what tests/deploy needs besides Debian's prometheus package:
#
#   * helm, from PATH when present; otherwise built once with `go install` from the Go module
#     proxy (with the same -ldflags as helm's own Makefile, so `helm version` and the default
#     Kubernetes version are right) into ${XDG_CACHE_HOME:-~/.cache}/exchange-bridge/bin, which
#     the tests look in after PATH;
#   * the Prometheus Operator's Go module (its CRD YAML validates ServiceMonitor and
#     PrometheusRule), downloaded into the Go module cache.
#
# Idempotent and quick when both are cached. Needs go (on the CI machine and developers').
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
# Kubernetes libraries helm $HELM_VERSION is built with (its default --kube-version).
HELM_K8S_MAJOR=1
HELM_K8S_MINOR=37
# Keep in step with tests/deploy/tools.py.
PROMETHEUS_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0

BIN="${XDG_CACHE_HOME:-$HOME/.cache}/exchange-bridge/bin"

if command -v helm >/dev/null 2>&1; then
    echo "helm: $(command -v helm) ($(helm version --short 2>/dev/null || echo '?'))"
elif [[ -x "$BIN/helm" ]] && "$BIN/helm" version --short 2>/dev/null | grep -qx "${HELM_VERSION}"; then
    echo "helm: $BIN/helm (${HELM_VERSION}, cached)"
else
    command -v go >/dev/null 2>&1 || { echo "go is needed to build helm" >&2; exit 1; }
    echo "helm: building ${HELM_VERSION} with go install into $BIN (about 1.5 min on 2 cores)"
    mkdir -p "$BIN"
    start=$SECONDS
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X ${pkg}.k8sVersionMajor=${HELM_K8S_MAJOR} -X ${pkg}.k8sVersionMinor=${HELM_K8S_MINOR}"
    done
    (cd "$(mktemp -d)" && GOBIN="$BIN" CGO_ENABLED=0 GOFLAGS=-trimpath \
        go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}")
    echo "helm: built in $((SECONDS - start)) s: $("$BIN/helm" version --short)"
fi

command -v go >/dev/null 2>&1 || { echo "go is needed for the Prometheus Operator CRDs" >&2; exit 1; }
dir=$(cd "$(mktemp -d)" && go mod download -json "$PROMETHEUS_OPERATOR" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
test -f "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
echo "Prometheus Operator CRDs: $dir/example/prometheus-operator-crd"
