# Installs what assistd needs on a Debian machine; sourced by scripts/serve and scripts/test.
# - Debian packages (docker.io, debootstrap, python3-venv; extra ones passed in EXTRA_APT)
# - a running Docker engine (dockerd started in the background when none answers; gVisor's runsc
#   registered as a runtime when it is installed)
# - the project in .venv (reinstalled only when pyproject.toml changes)
# - for the tests, OpenAI's Node SDK in tests/node (`npm ci`, again only when package-lock.json changes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

start_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  if [ -x /usr/bin/runsc ] && [ ! -f /etc/docker/daemon.json ]; then
    $SUDO mkdir -p /etc/docker
    echo '{"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=create"]}}}' \
      | $SUDO tee /etc/docker/daemon.json >/dev/null
  fi
  echo "setup: starting dockerd in the background (log: /var/log/assistd-dockerd.log)"
  $SUDO sh -c 'nohup dockerd >/var/log/assistd-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  echo "setup: dockerd did not start; see /var/log/assistd-dockerd.log" >&2
  exit 1
}

install_venv() {
  local extras="$1" stamp="$VENV/.assistd-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$extras"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  echo "setup: installing assistd into $VENV (first time: a few minutes)"
  "$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q -e "$ROOT[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import runtime, sandbox, retrieval" # fails loudly if the install did not take
  echo "$want" > "$stamp"
}

install_node_tests() {
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  local dir="$ROOT/tests/node" want
  want="$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  if [ "$(cat "$dir/node_modules/.assistd-installed" 2>/dev/null)" = "$want" ]; then return; fi
  echo "setup: installing the Node SDK tests' packages (npm ci in tests/node)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$dir/node_modules/.assistd-installed"
}

setup() {
  local extras="$1"; shift
  apt_install docker.io debootstrap python3-venv ca-certificates "$@"
  start_docker
  install_venv "$extras"
}
