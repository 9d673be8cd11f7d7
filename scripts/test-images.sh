#!/usr/bin/env bash
# Builds the real images that imagegate-image's integration tests read (with docker).
#
#   scripts/test-images.sh            build the test images that are missing or out of date
#   scripts/test-images.sh --large    also build the large image the inventory benchmark reads
#   scripts/test-images.sh --list     print the names of the images this script makes
#
# Images (all named imagegate-test/…):
#   debian:base             Debian bookworm minbase from debootstrap (rootfs tarball cached)
#   debian-py:a, :b         debian:base + python3-pip/python3-venv; pip packages at two versions
#                           in both kinds of site-packages (system dist-packages installed with
#                           --break-system-packages, and a venv in /opt/venv); :b has one more
#                           apt package (less)
#   debian-py:whiteouts     debian-py:a after `pip uninstall werkzeug` (whiteouts of its folders)
#                           and with /opt/venv deleted and made again in one step (an opaque folder)
#   layers:latest           busybox with Python metadata deleted in a later layer, a folder made
#                           opaque, and a hard link
#   npm:latest              busybox with a node_modules tree made on this machine by `npm install`
#   apk:latest              busybox with a hand-written lib/apk/db/installed
#   npm:a, :b               busybox with node_modules trees made by `npm install` at two sets of
#                           versions (ms 2.1.2 → 2.1.3, debug 4.3.4 → 4.3.5 with its own ms 2.1.2
#                           nested, left-pad 1.3.0 → 1.2.0): the culprit proof's npm case
#   apk:a, :b               busybox with an apk database and the files it lists, at two versions of
#                           four packages (no Alpine mirror is reachable from these machines)
#   rpm:latest              busybox with a real var/lib/rpm/rpmdb.sqlite made by rpm(8) from
#                           packages built by rpmbuild
#   rpm:a, :b               busybox with four packages built by rpmbuild and installed by rpm(8)
#                           (files and database), at two versions each: the culprit proof's rpm case
#   trial:latest            debian:base + Twisted's trial and the subunitv2-file reporter (Debian's
#                           python3-twisted and python3-subunit, subunitreporter from PyPI): the
#                           runner and reporter of Tahoe-LAFS's suite, which does not make its
#                           output folder
#   debian-large:latest     (--large) debian-py:b + compilers and big Python wheels, over 500 MB
# The images of the podman tests (debian-py:a and :b, layers, trial, npm:a and :b, apk:a and :b,
# rpm:a and :b) are copied into podman as well.
#
# Idempotent and quick when nothing changed: each image carries the digest of its recipe and
# its parent (label io.imagegate.test.recipe) and is rebuilt only when that changes. Builds run
# with --network host (there is no bridge network here); pip inside the builds trusts this
# machine's CA bundle, since package registries are reached through a TLS-intercepting proxy.
#
# Environment:
#   IMAGEGATE_TEST_CACHE   where the debootstrap rootfs, the rpm database and the npm tree are
#                          cached (default /var/cache/imagegate-test)
#   IMAGEGATE_ENGINE_LOG_DIR   where the lock file lives (default /tmp/imagegate-engines)
#
# Needs a running docker (scripts/engines.sh docker) and the busybox base image
# (scripts/engines.sh base-image); installs debootstrap, rpm and npm with apt when missing.
set -euo pipefail

readonly CACHE_DIR="${IMAGEGATE_TEST_CACHE:-/var/cache/imagegate-test}"
readonly LOG_DIR="${IMAGEGATE_ENGINE_LOG_DIR:-/tmp/imagegate-engines}"
readonly HOST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"
readonly RECIPE_LABEL="io.imagegate.test.recipe"
readonly BUSYBOX_BASE="imagegate-test/busybox:base"
readonly DEBIAN_BASE="imagegate-test/debian:base"
readonly SUITE="bookworm"
readonly PODMAN_IMAGES=("imagegate-test/debian-py:a" "imagegate-test/debian-py:b" "imagegate-test/layers:latest" "imagegate-test/trial:latest"
  "imagegate-test/npm:a" "imagegate-test/npm:b" "imagegate-test/apk:a" "imagegate-test/apk:b"
  "imagegate-test/rpm:a" "imagegate-test/rpm:b")
readonly ALL_IMAGES=(
  "$DEBIAN_BASE"
  "imagegate-test/debian-py:a"
  "imagegate-test/debian-py:b"
  "imagegate-test/debian-py:whiteouts"
  "imagegate-test/layers:latest"
  "imagegate-test/npm:latest"
  "imagegate-test/npm:a"
  "imagegate-test/npm:b"
  "imagegate-test/apk:a"
  "imagegate-test/apk:b"
  "imagegate-test/trial:latest"
  "imagegate-test/apk:latest"
  "imagegate-test/rpm:latest"
  "imagegate-test/rpm:a"
  "imagegate-test/rpm:b"
)
readonly LARGE_IMAGE="imagegate-test/debian-large:latest"

log() {
  printf '%s test-images.sh: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,6s/^# \{0,1\}//p' "$0" >&2
  exit "${1:-2}"
}

WORK_DIR=""
# Set when anything was built, imported or copied, to report the time taken.
CHANGED=0
cleanup() {
  if [[ -n "$WORK_DIR" ]]; then
    rm -rf "$WORK_DIR"
  fi
}
trap cleanup EXIT

# Runs a command with its output held back; shows the output's end only if the command fails.
quietly() {
  local output_file="$WORK_DIR/command.log"
  if ! "$@" >"$output_file" 2>&1; then
    tail -n 40 "$output_file" >&2
    die "'$*' failed"
  fi
}

APT_UPDATED=0
ensure_command() {
  local command=$1 package=$2
  command -v "$command" >/dev/null 2>&1 && return 0
  [[ $EUID -eq 0 ]] || die "$command is missing and installing $package needs root"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    quietly apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $package"
  quietly apt-get install -y -qq "$package"
}

image_id() {
  docker image inspect -f '{{.Id}}' "$1" 2>/dev/null
}

image_label() {
  docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null
}

# The digest of a build context (Dockerfile included) and of the image it starts from.
recipe_digest() {
  local context=$1 parent=$2 parent_id
  parent_id=$(image_id "$parent") || die "parent image $parent is missing"
  {
    printf '%s\n' "$parent_id"
    tar -C "$context" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .
  } | sha256sum | cut -c1-64
}

# Builds NAME from CONTEXT (whose Dockerfile starts FROM PARENT) unless an image of that name
# was built from the same recipe and parent. NETWORK is host for builds that fetch packages.
build_image() {
  local name=$1 context=$2 parent=$3 network=$4 digest started
  digest=$(recipe_digest "$context" "$parent")
  if [[ "$(image_label "$name" || true)" == "$digest" ]]; then
    return 0
  fi
  log "building $name"
  started=$SECONDS
  quietly docker build --network "$network" --pull=false --label "$RECIPE_LABEL=$digest" -t "$name" "$context"
  log "built $name in $((SECONDS - started))s"
  CHANGED=1
}

new_context() {
  local context="$WORK_DIR/$1"
  mkdir -p "$context"
  printf '%s\n' "$context"
}

# --- Debian base -------------------------------------------------------------------------------

# The Debian mirror this machine's apt uses (deb822 sources first, then sources.list).
debian_mirror() {
  local mirror=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' /etc/apt/sources.list)
  fi
  printf '%s\n' "${mirror:-http://deb.debian.org/debian}"
}

ensure_debian_base() {
  local rootfs_tar="$CACHE_DIR/debian-$SUITE-minbase.tar"
  if [[ ! -s "$rootfs_tar" ]]; then
    ensure_command debootstrap debootstrap
    local mirror root started
    mirror=$(debian_mirror)
    root="$WORK_DIR/debian-rootfs"
    log "debootstrap --variant=minbase $SUITE from $mirror (about a minute)"
    started=$SECONDS
    quietly debootstrap --variant=minbase "$SUITE" "$root" "$mirror"
    # Downloaded .debs and apt lists are not part of an image people would build.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$CACHE_DIR"
    tar -C "$root" --numeric-owner -cf "$rootfs_tar.partial" .
    mv "$rootfs_tar.partial" "$rootfs_tar"
    log "debootstrap done in $((SECONDS - started))s; rootfs cached in $rootfs_tar"
  fi
  # The image is imported again only when the cached tarball changed since the last import.
  local digest
  digest=$(sha256sum "$rootfs_tar" | cut -c1-64)
  if [[ "$(image_label "$DEBIAN_BASE" || true)" == "$digest" ]]; then
    return 0
  fi
  log "importing $DEBIAN_BASE"
  CHANGED=1
  quietly docker import \
    --change "LABEL $RECIPE_LABEL=$digest" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    "$rootfs_tar" "$DEBIAN_BASE"
}

# --- Python images -----------------------------------------------------------------------------

# The lines every Debian Python image starts with, identical so that their layers are shared.
python_preamble() {
  cat <<EOF
FROM $DEBIAN_BASE
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip python3-venv \\
 && rm -rf /var/lib/apt/lists/*
COPY host-ca.crt /usr/local/share/imagegate/host-ca.crt
ENV PIP_CERT=/usr/local/share/imagegate/host-ca.crt \\
    REQUESTS_CA_BUNDLE=/usr/local/share/imagegate/host-ca.crt \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1
EOF
}

python_context() {
  local context
  context=$(new_context "$1")
  cp "$HOST_CA_BUNDLE" "$context/host-ca.crt"
  printf '%s\n' "$context"
}

ensure_python_images() {
  local context
  context=$(python_context debian-py-a)
  {
    python_preamble
    cat <<'EOF'
RUN pip install --break-system-packages werkzeug==2.2.3 markupsafe==2.1.3
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install idna==3.6
EOF
  } >"$context/Dockerfile"
  build_image imagegate-test/debian-py:a "$context" "$DEBIAN_BASE" host

  context=$(python_context debian-py-b)
  {
    python_preamble
    cat <<'EOF'
RUN apt-get update && apt-get install -y --no-install-recommends less && rm -rf /var/lib/apt/lists/*
RUN pip install --break-system-packages werkzeug==2.3.0 markupsafe==2.1.5
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install idna==3.7
EOF
  } >"$context/Dockerfile"
  build_image imagegate-test/debian-py:b "$context" "$DEBIAN_BASE" host

  # Deleting a distribution in a later layer leaves whiteouts of its folders; deleting a folder
  # and making it again in one step leaves an opaque marker in it.
  context=$(new_context debian-py-whiteouts)
  cat >"$context/Dockerfile" <<'EOF'
FROM imagegate-test/debian-py:a
RUN pip uninstall -y --break-system-packages werkzeug
RUN rm -rf /opt/venv && python3 -m venv /opt/venv && /opt/venv/bin/pip install idna==3.7
EOF
  build_image imagegate-test/debian-py:whiteouts "$context" imagegate-test/debian-py:a host
}

ensure_trial_image() {
  local context
  context=$(python_context trial)
  {
    python_preamble
    cat <<'EOF'
RUN apt-get update && apt-get install -y --no-install-recommends python3-twisted python3-subunit python-is-python3 \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --break-system-packages --no-deps subunitreporter==23.8.0
EOF
  } >"$context/Dockerfile"
  build_image imagegate-test/trial:latest "$context" "$DEBIAN_BASE" host
}

ensure_large_image() {
  local context
  context=$(new_context debian-large)
  cat >"$context/Dockerfile" <<'EOF'
FROM imagegate-test/debian-py:b
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make gdb python3-dev perl \
 && rm -rf /var/lib/apt/lists/*
RUN /opt/venv/bin/pip install numpy==1.26.4 scipy==1.13.1 pandas==2.2.2
EOF
  local changed_before=$CHANGED
  CHANGED=0
  build_image "$LARGE_IMAGE" "$context" imagegate-test/debian-py:b host
  if ((CHANGED == 1)); then
    log "$LARGE_IMAGE is $(($(docker image inspect -f '{{.Size}}' "$LARGE_IMAGE") / 1000000)) MB"
  fi
  CHANGED=$((CHANGED | changed_before))
}

# --- busybox images ----------------------------------------------------------------------------

ensure_layers_image() {
  local context site="/usr/lib/python3.11/site-packages" venv="/opt/venv/lib/python3.11/site-packages"
  context=$(new_context layers)
  cat >"$context/Dockerfile" <<EOF
FROM $BUSYBOX_BASE
RUN mkdir -p $site/gone-1.0.dist-info $site/kept-2.0.dist-info $site/linked-2.0.dist-info \\
      $venv/old-1.0.dist-info \\
 && printf 'Metadata-Version: 2.1\nName: gone\nVersion: 1.0\n' >$site/gone-1.0.dist-info/METADATA \\
 && printf 'Metadata-Version: 2.1\nName: kept\nVersion: 2.0\n' >$site/kept-2.0.dist-info/METADATA \\
 && ln $site/kept-2.0.dist-info/METADATA $site/linked-2.0.dist-info/METADATA \\
 && printf 'Metadata-Version: 2.1\nName: old\nVersion: 1.0\n' >$venv/old-1.0.dist-info/METADATA
RUN rm -rf $site/gone-1.0.dist-info
RUN rm -rf /opt/venv && mkdir -p $venv/new-2.0.dist-info \\
 && printf 'Metadata-Version: 2.1\nName: new\nVersion: 2.0\n' >$venv/new-2.0.dist-info/METADATA
EOF
  build_image imagegate-test/layers:latest "$context" "$BUSYBOX_BASE" none
}

ensure_apk_image() {
  local context
  context=$(new_context apk)
  cat >"$context/installed" <<'EOF'
C:Q1sGrQ1JrlCxNGB2OPzDGwt5b5T0Q=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1697040233
c:ae4fa6e3c8e1d5b2ad3f6a7c3c3b9dc1d1f4b9d1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1rNJ8mGqFEl1LcQqDi0NRnzcLw3k=
R:libc.musl-x86_64.so.1

C:Q1Ylo4wBUQt5LsUzpeNkDyUq2WBHA=
P:busybox
V:1.36.1-r15
A:x86_64
S:509104
I:955392
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1700000000
c:0123456789abcdef0123456789abcdef01234567
D:so:libc.musl-x86_64.so.1
F:bin
R:busybox
a:0:0:755

C:Q1abcdefghijklmnopqrstuvwxyz0=
P:zlib
V:1.3.1-r0
A:x86_64
S:53567
I:110592
T:A compression/decompression Library
U:https://zlib.net/
L:Zlib
o:zlib
t:1705000000
D:so:libc.musl-x86_64.so.1
F:lib
R:libz.so.1.3.1

EOF
  cat >"$context/Dockerfile" <<EOF
FROM $BUSYBOX_BASE
COPY installed /lib/apk/db/installed
EOF
  build_image imagegate-test/apk:latest "$context" "$BUSYBOX_BASE" none
}

# A real RPM database: two noarch packages built by rpmbuild and recorded by rpm(8) into a
# fresh sqlite database (--justdb: only the database is written).
make_rpm_database() {
  local database="$CACHE_DIR/rpmdb.sqlite"
  [[ -s "$database" ]] && return 0
  ensure_command rpmbuild rpm
  local top="$WORK_DIR/rpm-build" name version release spec
  mkdir -p "$top/db"
  for spec in "imagegate-hello 1.0 1" "imagegate-tools 2.3.1 4"; do
    read -r name version release <<<"$spec"
    cat >"$top/$name.spec" <<EOF
Name: $name
Version: $version
Release: $release
Summary: A package for imagegate's tests
License: MIT
BuildArch: noarch
%description
A package for imagegate's tests.
%files
EOF
    quietly rpmbuild -bb --define "_topdir $top/build" "$top/$name.spec"
  done
  quietly rpm --initdb --dbpath "$top/db"
  quietly rpm -i --nodeps --justdb --dbpath "$top/db" "$top"/build/RPMS/noarch/*.rpm
  [[ -s "$top/db/rpmdb.sqlite" ]] || die "rpm did not write $top/db/rpmdb.sqlite (is its database backend sqlite?)"
  mkdir -p "$CACHE_DIR"
  cp "$top/db/rpmdb.sqlite" "$database.partial"
  mv "$database.partial" "$database"
}

# One rpm package built by rpmbuild: TOP NAME VERSION RELEASE REQUIRES FOLDER FILE... Each file
# holds the package's name and version; a library (the first file, in usr/lib64) gets its
# `.so.1` link; every package owns its documentation folder too.
build_rpm_package() {
  local top=$1 name=$2 version=$3 release=$4 requires=$5 folder=$6
  shift 6
  local spec="$top/$name-$version.spec" file link=""
  [[ $folder == usr/lib64 ]] && link="${1%%.so.*}.so.1"
  {
    echo "Name: $name"
    echo "Version: $version"
    echo "Release: $release"
    echo "Summary: A package for imagegate tests"
    echo "License: MIT"
    echo "BuildArch: x86_64"
    [[ $requires == - ]] || echo "Requires: $requires"
    echo "%description"
    echo "A package for imagegate tests."
    echo "%install"
    echo "mkdir -p %{buildroot}/$folder %{buildroot}/usr/share/doc/$name"
    echo "echo $version > %{buildroot}/usr/share/doc/$name/VERSION"
    for file in "$@"; do
      echo "echo '$name $version' > %{buildroot}/$folder/$file"
    done
    [[ -z $link ]] || echo "ln -s $1 %{buildroot}/$folder/$link"
    echo "%files"
    for file in "$@"; do
      echo "/$folder/$file"
    done
    [[ -z $link ]] || echo "/$folder/$link"
    echo "/usr/share/doc/$name"
  } >"$spec"
  quietly rpmbuild -bb --define "_topdir $top/build" --define "debug_package %{nil}" "$spec"
}

# Two root folders with rpm packages installed by rpm(8) itself, files and database (kept as
# tarballs, so that the images' recipes stay the same from one run to the next: rpm records the
# time of each install).
make_rpm_roots() {
  local label top root
  for label in a b; do
    [[ -s "$CACHE_DIR/rpm-root-$label.tar" ]] && continue
    ensure_command rpmbuild rpm
    top="$WORK_DIR/rpm-pair-$label"
    root="$top/root"
    rm -rf "$top"
    mkdir -p "$top" "$root"
    if [[ $label == a ]]; then
      build_rpm_package "$top" zlib 1.2.13 3.fc40 - usr/lib64 libz.so.1.2.13
      build_rpm_package "$top" openssl-libs 3.1.1 4.fc40 zlib usr/lib64 libssl.so.3.1.1
      build_rpm_package "$top" ca-certificates 2023.2.62 1.fc40 - etc/pki/tls/certs ca-bundle.crt
      build_rpm_package "$top" tzdata 2024a 1.fc40 - usr/share/zoneinfo UTC
    else
      build_rpm_package "$top" zlib 1.3.1 1.fc41 - usr/lib64 libz.so.1.3.1
      build_rpm_package "$top" openssl-libs 3.2.2 1.fc41 zlib usr/lib64 libssl.so.3.2.2
      build_rpm_package "$top" ca-certificates 2024.2.69 1.fc41 - etc/pki/tls/certs ca-bundle.crt
      build_rpm_package "$top" tzdata 2024b 1.fc41 - usr/share/zoneinfo UTC
    fi
    build_rpm_package "$top" filesystem 3.18 8.fc40 - etc/imagegate release
    quietly rpm --root "$root" --dbpath /var/lib/rpm --initdb
    quietly rpm --root "$root" --dbpath /var/lib/rpm -i --nodeps "$top"/build/RPMS/x86_64/*.rpm
    [[ -s "$root/var/lib/rpm/rpmdb.sqlite" ]] || die "rpm did not install into $root (is its database backend sqlite?)"
    mkdir -p "$CACHE_DIR"
    # File times are kept: rpm -V compares them with what the database recorded.
    tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner -cf "$CACHE_DIR/rpm-root-$label.tar.partial" .
    mv "$CACHE_DIR/rpm-root-$label.tar.partial" "$CACHE_DIR/rpm-root-$label.tar"
  done
}

ensure_rpm_pair() {
  make_rpm_roots
  # The culprit tests check these images with rpm itself, also when the roots were cached.
  ensure_command rpm rpm
  local label context
  for label in a b; do
    context=$(new_context "rpm-$label")
    cp "$CACHE_DIR/rpm-root-$label.tar" "$context/root.tar"
    printf 'FROM %s\nADD root.tar /\n' "$BUSYBOX_BASE" >"$context/Dockerfile"
    build_image "imagegate-test/rpm:$label" "$context" "$BUSYBOX_BASE" none
  done
}

ensure_rpm_image() {
  make_rpm_database
  local context
  context=$(new_context rpm)
  cp "$CACHE_DIR/rpmdb.sqlite" "$context/rpmdb.sqlite"
  cat >"$context/Dockerfile" <<EOF
FROM $BUSYBOX_BASE
COPY rpmdb.sqlite /var/lib/rpm/rpmdb.sqlite
EOF
  build_image imagegate-test/rpm:latest "$context" "$BUSYBOX_BASE" none
}

# A node_modules tree made by npm on this machine: ms 2.1.3 at the top and debug's own ms 2.1.2
# nested under it.
make_node_modules() {
  local tree="$CACHE_DIR/node-modules.tar"
  [[ -s "$tree" ]] && return 0
  ensure_command npm npm
  local project="$WORK_DIR/npm-project"
  mkdir -p "$project"
  printf '{ "name": "imagegate-npm-test", "version": "1.0.0", "private": true }\n' >"$project/package.json"
  (cd "$project" && quietly npm install --no-audit --no-fund --no-update-notifier \
    debug@4.3.4 left-pad@1.3.0 ms@2.1.3)
  mkdir -p "$CACHE_DIR"
  tar -C "$project" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$tree.partial" package.json package-lock.json node_modules
  mv "$tree.partial" "$tree"
}

ensure_npm_image() {
  make_node_modules
  local context
  context=$(new_context npm)
  cp "$CACHE_DIR/node-modules.tar" "$context/app.tar"
  cat >"$context/Dockerfile" <<EOF
FROM $BUSYBOX_BASE
ADD app.tar /app/
EOF
  build_image imagegate-test/npm:latest "$context" "$BUSYBOX_BASE" none
}

# Two node_modules trees for the culprit proof, made by npm like make_node_modules.
make_node_modules_at() {
  local label=$1
  shift
  local tree="$CACHE_DIR/node-modules-$label.tar"
  [[ -s "$tree" ]] && return 0
  ensure_command npm npm
  local project="$WORK_DIR/npm-project-$label"
  mkdir -p "$project"
  printf '{ "name": "imagegate-npm-%s", "version": "1.0.0", "private": true }\n' "$label" >"$project/package.json"
  (cd "$project" && quietly npm install --no-audit --no-fund --no-update-notifier "$@")
  mkdir -p "$CACHE_DIR"
  tar -C "$project" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -cf "$tree.partial" package.json package-lock.json node_modules
  mv "$tree.partial" "$tree"
}

ensure_npm_pair() {
  make_node_modules_at a debug@4.3.4 left-pad@1.3.0 ms@2.1.2
  make_node_modules_at b debug@4.3.5 left-pad@1.2.0 ms@2.1.3
  local label context
  for label in a b; do
    context=$(new_context "npm-$label")
    cp "$CACHE_DIR/node-modules-$label.tar" "$context/app.tar"
    printf 'FROM %s\nADD app.tar /app/\n' "$BUSYBOX_BASE" >"$context/Dockerfile"
    build_image "imagegate-test/npm:$label" "$context" "$BUSYBOX_BASE" none
  done
}

# One apk package's block and its files: NAME VERSION FOLDER FILE... (files get their package
# and version as content).
apk_package() {
  local root=$1 name=$2 version=$3 folder=$4
  shift 4
  printf 'C:Q1%s=\nP:%s\nV:%s\nA:x86_64\nS:1000\nI:4096\nT:%s for imagegate tests\nU:https://example.org/\nL:MIT\no:%s\nF:%s\n' \
    "$(printf '%s' "$name-$version" | sha1sum | cut -c1-26)" "$name" "$version" "$name" "$name" "$folder" \
    >>"$root/lib/apk/db/installed"
  mkdir -p "$root/$folder"
  local file
  for file in "$@"; do
    printf 'R:%s\na:0:0:755\n' "$file" >>"$root/lib/apk/db/installed"
    printf '%s %s\n' "$name" "$version" >"$root/$folder/$file"
  done
  printf '\n' >>"$root/lib/apk/db/installed"
}

ensure_apk_pair() {
  local label context root
  for label in a b; do
    context=$(new_context "apk-$label")
    root="$context/rootfs"
    mkdir -p "$root/lib/apk/db"
    : >"$root/lib/apk/db/installed"
    if [[ $label == a ]]; then
      apk_package "$root" musl 1.2.4-r2 lib ld-musl-x86_64.so.1
      apk_package "$root" zlib 1.3.0-r0 lib libz.so.1 libz.so.1.3.0
      apk_package "$root" libcrypto3 3.1.4-r0 lib libcrypto.so.3
      apk_package "$root" ca-certificates-bundle 20230506-r0 etc/ssl/certs ca-certificates.crt
    else
      apk_package "$root" musl 1.2.5-r0 lib ld-musl-x86_64.so.1
      apk_package "$root" zlib 1.3.1-r0 lib libz.so.1 libz.so.1.3.1
      apk_package "$root" libcrypto3 3.1.5-r0 lib libcrypto.so.3
      apk_package "$root" ca-certificates-bundle 20240226-r0 etc/ssl/certs ca-certificates.crt
    fi
    printf 'FROM %s\nCOPY rootfs/ /\n' "$BUSYBOX_BASE" >"$context/Dockerfile"
    build_image "imagegate-test/apk:$label" "$context" "$BUSYBOX_BASE" none
  done
}

# --- podman ------------------------------------------------------------------------------------

# podman has its own image store; the images its tests read are copied there from docker.
ensure_podman_copies() {
  if ! command -v podman >/dev/null 2>&1 || ! timeout 30 podman info >/dev/null 2>&1; then
    log "podman is not usable; its tests will fail (run scripts/engines.sh podman)"
    return 0
  fi
  local name missing=()
  for name in "${PODMAN_IMAGES[@]}"; do
    if [[ "$(podman image inspect -f '{{.Id}}' "$name" 2>/dev/null || true)" != "$(image_id "$name" | sed 's/^sha256://')" ]]; then
      missing+=("$name")
    fi
  done
  ((${#missing[@]} > 0)) || return 0
  log "copying ${missing[*]} into podman"
  CHANGED=1
  quietly bash -c 'set -o pipefail; docker save "$@" | podman load' copy "${missing[@]}"
}

# --- main --------------------------------------------------------------------------------------

main() {
  local large=0
  while (($# > 0)); do
    case "$1" in
      --large) large=1 ;;
      --list)
        printf '%s\n' "${ALL_IMAGES[@]}" "$LARGE_IMAGE"
        return 0
        ;;
      -h | --help) usage 0 ;;
      *)
        log "unknown argument '$1'"
        usage
        ;;
    esac
    shift
  done

  if ! command -v docker >/dev/null 2>&1 || ! timeout 20 docker info >/dev/null 2>&1; then
    die "docker is not running; run 'scripts/engines.sh docker' first"
  fi
  image_id "$BUSYBOX_BASE" >/dev/null || die "$BUSYBOX_BASE is missing; run 'scripts/engines.sh base-image' first"
  [[ -r "$HOST_CA_BUNDLE" ]] || die "$HOST_CA_BUNDLE is missing; pip inside the builds needs it"

  mkdir -p "$LOG_DIR"
  # Test processes started in parallel may all run this at once; one build at a time.
  exec 8>"$LOG_DIR/test-images.lock"
  flock -w 1800 8 || die "timed out waiting for another test-images.sh run (lock $LOG_DIR/test-images.lock)"

  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/imagegate-test-images.XXXXXX")
  local started=$SECONDS
  ensure_debian_base
  ensure_python_images
  ensure_layers_image
  ensure_apk_image
  ensure_rpm_image
  ensure_rpm_pair
  ensure_npm_image
  ensure_npm_pair
  ensure_apk_pair
  ensure_trial_image
  if ((large == 1)); then
    ensure_large_image
  fi
  ensure_podman_copies
  if ((CHANGED == 1)); then
    log "test images ready in $((SECONDS - started))s"
  fi
}

main "$@"
