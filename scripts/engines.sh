#!/usr/bin/env bash
# Installs, starts and prepares the container engines that imagegate's tests and demo use.
#
#   scripts/engines.sh docker            install docker.io if needed, start dockerd (no bridge network)
#   scripts/engines.sh podman            install podman/buildah/runc if needed, configure runc + ulimits
#   scripts/engines.sh registry          install docker-registry and apache2-utils (htpasswd)
#   scripts/engines.sh all               docker + podman
#   scripts/engines.sh base-image [ENGINE…]
#                                        import imagegate-demo/busybox:base (also tagged
#                                        imagegate-test/busybox:base) into each usable engine
#   scripts/engines.sh status            print what is installed, running and imported
#
# Every subcommand is idempotent: when everything is already in place it does nothing and prints
# nothing. Actions and failures are logged to stderr with timestamps.
#
# Environment:
#   IMAGEGATE_ENGINE_LOG_DIR   where dockerd's log and the lock file live (default /tmp/imagegate-engines)
#   IMAGEGATE_ENGINE_TIMEOUT   seconds to wait for an engine to answer (default 60)
#
# No image can be pulled on the machines this runs on, so the base image is made from the host's
# busybox-static binary. dockerd runs with --bridge=none: containers use --network none (tests) or
# --network host (builds that fetch packages), never a bridge.
set -euo pipefail

readonly BASE_IMAGE="imagegate-demo/busybox:base"
readonly BASE_IMAGE_ALIASES=("imagegate-test/busybox:base")
readonly CONTAINERS_CONF="/etc/containers/containers.conf"
readonly LOG_DIR="${IMAGEGATE_ENGINE_LOG_DIR:-/tmp/imagegate-engines}"
readonly ENGINE_TIMEOUT="${IMAGEGATE_ENGINE_TIMEOUT:-60}"

log() {
  printf '%s engines.sh: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
  exit "${1:-2}"
}

# Runs a command with its output held back; shows the output only if the command fails.
quietly() {
  local output
  if ! output=$("$@" 2>&1); then
    printf '%s\n' "$output" >&2
    die "'$*' failed"
  fi
}

# --- privileges and packages -------------------------------------------------------------------

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "'$*' needs root; run as root or install sudo"
  fi
}

APT_UPDATED=0

apt_install() {
  (($# > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* (no apt-get on this machine); install them by hand"
  export DEBIAN_FRONTEND=noninteractive
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
      { tail -n 20 "$LOG_DIR/apt.log" >&2; die "apt-get update failed (log: $LOG_DIR/apt.log)"; }
    APT_UPDATED=1
  fi
  log "installing $*"
  # Recommended packages stay on: the engines were verified with them (fuse-overlayfs,
  # slirp4netns, uidmap, tini). NEEDRESTART_SUSPEND keeps needrestart from restarting services.
  as_root env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq "$@" \
    >>"$LOG_DIR/apt.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/apt.log" >&2; die "apt-get install $* failed (log: $LOG_DIR/apt.log)"; }
}

package_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# Installs each named package that dpkg does not already report as installed.
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    package_installed "$package" || missing+=("$package")
  done
  apt_install "${missing[@]}"
}

# Starts COMMAND as root in a new session, detached from this script: it must outlive the script
# and the terminal or CI step that ran it. Every inherited descriptor above stderr is closed first;
# otherwise the daemon would hold this script's lock (fd 9) and any pipe its caller reads to EOF.
start_detached() {
  local logfile=$1 fd
  shift
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
        eval "exec $fd>&-" 2>/dev/null || true
      fi
    done
    if [[ $EUID -eq 0 ]]; then
      exec setsid nohup "$@" >>"$logfile" 2>&1 </dev/null
    else
      exec sudo -n setsid nohup "$@" >>"$logfile" 2>&1 </dev/null
    fi
  ) &
}

# --- docker ------------------------------------------------------------------------------------

docker_ready() {
  command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1
}

ensure_docker() {
  docker_ready && return 0

  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  command -v docker >/dev/null 2>&1 || die "docker CLI missing after installing docker.io"

  local daemon_log="$LOG_DIR/dockerd.log"
  if pgrep -x dockerd >/dev/null 2>&1; then
    # Started by an earlier run (or by hand) and still coming up: wait for it rather than starting
    # a second daemon on the same socket.
    log "dockerd is running but not answering yet; waiting"
  else
    log "starting dockerd (log: $daemon_log)"
    start_detached "$daemon_log" dockerd --bridge=none --iptables=false --ip-masq=false
  fi

  local deadline=$((SECONDS + ENGINE_TIMEOUT))
  until docker_ready; do
    if ((SECONDS >= deadline)); then
      [[ -f "$daemon_log" ]] && tail -n 30 "$daemon_log" >&2
      die "dockerd did not answer 'docker info' within ${ENGINE_TIMEOUT}s (log: $daemon_log)"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      [[ -f "$daemon_log" ]] && tail -n 30 "$daemon_log" >&2
      die "dockerd exited while starting (log: $daemon_log)"
    fi
    sleep 0.5
  done
  log "docker is up ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo 'unknown version'))"
}

# --- podman ------------------------------------------------------------------------------------

# The default runtime (crun) fails on this kind of machine ("cgroups in hybrid mode not supported")
# and podman's default ulimits exceed the hard limits (nofile 20000), so runc and lower limits.
readonly CONTAINERS_CONF_CONTENT='# Written by imagegate scripts/engines.sh: crun fails on cgroup v1 hybrid hosts and the default
# ulimits exceed this machine'"'"'s hard limits.
[containers]
default_ulimits = ["nofile=10000:10000","nproc=10000:10000"]

[engine]
runtime = "runc"
'

containers_conf_ok() {
  [[ -f "$CONTAINERS_CONF" ]] &&
    grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$CONTAINERS_CONF" &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile=10000:10000' "$CONTAINERS_CONF"
}

ensure_podman() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  apt_install "${missing[@]}"

  if ! containers_conf_ok; then
    if [[ -f "$CONTAINERS_CONF" ]]; then
      local backup
      backup="$CONTAINERS_CONF.bak.$(date -u +%Y%m%dT%H%M%SZ)"
      log "backing up $CONTAINERS_CONF to $backup"
      as_root cp -p "$CONTAINERS_CONF" "$backup"
    fi
    log "writing $CONTAINERS_CONF (runtime runc, ulimits nofile/nproc 10000)"
    as_root mkdir -p "$(dirname "$CONTAINERS_CONF")"
    printf '%s' "$CONTAINERS_CONF_CONTENT" | as_root tee "$CONTAINERS_CONF" >/dev/null
  fi

  local output
  if ! output=$(timeout "$ENGINE_TIMEOUT" podman info 2>&1); then
    printf '%s\n' "$output" | tail -n 30 >&2
    die "podman info failed"
  fi
}

podman_ready() {
  command -v podman >/dev/null 2>&1 && timeout 30 podman info >/dev/null 2>&1
}

# --- registry ----------------------------------------------------------------------------------

ensure_registry() {
  # Tests write their own registry config and start `docker-registry serve CONFIG` themselves;
  # htpasswd (apache2-utils) makes the bcrypt files for the authenticated variants.
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  apt_install "${missing[@]}"
}

# --- base image --------------------------------------------------------------------------------

ROOTFS_TAR=""

cleanup() {
  if [[ -n "$ROOTFS_TAR" ]]; then
    rm -rf "$(dirname "$ROOTFS_TAR")"
  fi
}
trap cleanup EXIT

static_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if [[ -x "$candidate" ]] && ! ldd "$candidate" >/dev/null 2>&1; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# Builds the root filesystem tarball once per invocation, shared by both engines. Sorted entries,
# fixed mtimes and numeric root ownership make the layer's digest the same on every run and machine
# with the same busybox build.
# Sets ROOTFS_TAR; call it directly, not in $(…), so the path is kept for the next engine and the
# EXIT trap removes it.
make_rootfs_tar() {
  [[ -z "$ROOTFS_TAR" ]] || return 0
  local busybox
  if ! busybox=$(static_busybox); then
    ensure_packages busybox-static
    busybox=$(static_busybox) || die "no statically linked busybox after installing busybox-static"
  fi

  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/imagegate-rootfs.XXXXXX")
  ROOTFS_TAR="$work/rootfs.tar"
  local root="$work/rootfs"
  mkdir -p "$root"/{bin,etc,root,tmp,proc,sys,dev,usr/bin,usr/sbin,sbin}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  cp "$busybox" "$root/bin/busybox"
  local applet
  while IFS= read -r applet; do
    [[ -n "$applet" && "$applet" != busybox ]] || continue
    ln -sf busybox "$root/bin/$applet"
  done < <("$busybox" --list)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$ROOTFS_TAR" .
}

# Imports the base image into ENGINE (docker or podman) unless it is already there; adds the alias
# tags either way.
ensure_base_image_in() {
  local engine=$1 name
  if ! "$engine" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    make_rootfs_tar
    log "importing $BASE_IMAGE into $engine"
    quietly "$engine" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/sh"]' \
      "$ROOTFS_TAR" "$BASE_IMAGE"
  fi
  for name in "${BASE_IMAGE_ALIASES[@]}"; do
    if ! "$engine" image inspect "$name" >/dev/null 2>&1; then
      quietly "$engine" tag "$BASE_IMAGE" "$name"
    fi
  done
}

ensure_base_image() {
  local engines=("$@") engine imported=0
  ((${#engines[@]} > 0)) || engines=(docker podman)
  for engine in "${engines[@]}"; do
    case "$engine" in
      docker)
        if docker_ready; then
          ensure_base_image_in docker
          imported=$((imported + 1))
        elif (($# > 0)); then
          die "docker is not running; run 'scripts/engines.sh docker' first"
        fi
        ;;
      podman)
        if podman_ready; then
          ensure_base_image_in podman
          imported=$((imported + 1))
        elif (($# > 0)); then
          die "podman is not usable; run 'scripts/engines.sh podman' first"
        fi
        ;;
      *) die "unknown engine '$engine' (expected docker or podman)" ;;
    esac
  done
  ((imported > 0)) || die "no engine is usable; run 'scripts/engines.sh all' first"
}

# --- status ------------------------------------------------------------------------------------

print_status() {
  local engine
  if docker_ready; then
    printf 'docker:   running (server %s)\n' "$(docker version -f '{{.Server.Version}}' 2>/dev/null)"
  elif command -v dockerd >/dev/null 2>&1; then
    printf 'docker:   installed, daemon not answering\n'
  else
    printf 'docker:   not installed\n'
  fi
  if podman_ready; then
    printf 'podman:   usable (%s)\n' "$(podman version -f '{{.Client.Version}}' 2>/dev/null)"
  elif command -v podman >/dev/null 2>&1; then
    printf 'podman:   installed, podman info fails\n'
  else
    printf 'podman:   not installed\n'
  fi
  if command -v docker-registry >/dev/null 2>&1; then
    printf 'registry: installed (docker-registry)\n'
  else
    printf 'registry: not installed\n'
  fi
  for engine in docker podman; do
    case "$engine" in
      docker) docker_ready || continue ;;
      podman) podman_ready || continue ;;
    esac
    if "$engine" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
      printf 'base image in %s: %s\n' "$engine" "$BASE_IMAGE"
    else
      printf 'base image in %s: missing\n' "$engine"
    fi
  done
}

# --- main --------------------------------------------------------------------------------------

main() {
  (($# >= 1)) || usage
  local command=$1
  shift

  mkdir -p "$LOG_DIR"
  # Tests running in parallel may all ask for an engine at once; one at a time keeps apt and dockerd
  # from being started twice.
  exec 9>"$LOG_DIR/engines.lock"
  flock -w 600 9 || die "timed out waiting for another engines.sh run (lock $LOG_DIR/engines.lock)"

  case "$command" in
    docker) ensure_docker ;;
    podman) ensure_podman ;;
    registry) ensure_registry ;;
    all)
      ensure_docker
      ensure_podman
      ;;
    base-image) ensure_base_image "$@" ;;
    status) print_status ;;
    -h | --help | help) usage 0 ;;
    *)
      log "unknown subcommand '$command'"
      usage
      ;;
  esac
}

main "$@"
