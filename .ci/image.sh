#!/usr/bin/env bash
# Builds the container tests' base image without any registry: a minimal Debian root filesystem
# (debootstrap --variant=minbase) with only a headless JRE 17 added, imported with `docker import`.
#
#   .ci/image.sh            make sure the image exists: nothing to do when it is there and was built
#                           from this KEY; else `docker import` of the cached tarball, which is
#                           bootstrapped first when missing
#   .ci/image.sh --rebuild  bootstrap the root filesystem again, then import it
#
# The tarball is cached as .ci/cache/$KEY.tar (gitignored). Changing anything in how the root
# filesystem is made means changing KEY: a new tarball and a re-import follow automatically.
# Needs: debootstrap (and Debian's archive keyring), root or sudo for debootstrap/chroot, and a
# reachable Docker daemon for the import. The tests look for the image by IMAGE's name
# (KVMCTL_CONTAINER_IMAGE overrides it on both sides).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEY=debian-jre-${SUITE}-minbase-openjdk17-v1
IMAGE=${KVMCTL_CONTAINER_IMAGE:-kvmctl-ci/debian-jre:${SUITE}}
CACHE=.ci/cache
TARBALL=$CACHE/$KEY.tar
LABEL=dev.kvmctl.ci.key

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

rebuild=false
if [ "${1:-}" = --rebuild ]; then rebuild=true; fi

log() { echo "image: $*"; }

bootstrap() {
    local root
    mkdir -p "$CACHE"
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    # shellcheck disable=SC2064  # expand $root now
    trap "$SUDO umount '$root/proc' 2>/dev/null || true; $SUDO rm -rf '$root'" EXIT
    log "debootstrap --variant=minbase $SUITE from $MIRROR"
    $SUDO debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 30 "$CACHE/debootstrap.log" >&2; log "debootstrap failed (log: $CACHE/debootstrap.log)"; exit 1; }
    # The JRE, with its security updates; nothing of kvmctl's goes into the image.
    $SUDO tee "$root/etc/apt/sources.list" >/dev/null <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
    # The JRE's maintainer scripts (ca-certificates-java runs java) need /proc.
    $SUDO mount -t proc proc "$root/proc"
    log "installing openjdk-17-jre-headless in the root filesystem"
    $SUDO chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -ec 'apt-get -qq update
                apt-get -qq install -y --no-install-recommends openjdk-17-jre-headless
                apt-get clean
                rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /var/log/apt /var/log/dpkg.log' \
        >>"$CACHE/debootstrap.log" 2>&1 \
        || { tail -n 30 "$CACHE/debootstrap.log" >&2; log "JRE install failed (log: $CACHE/debootstrap.log)"; exit 1; }
    $SUDO umount "$root/proc"
    log "writing $TARBALL"
    # Docker supplies /dev, /proc and /sys itself.
    $SUDO tar --numeric-owner -C "$root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$TARBALL.tmp" .
    $SUDO chown "$(id -u):$(id -g)" "$TARBALL.tmp"
    mv -f "$TARBALL.tmp" "$TARBALL"
    $SUDO rm -rf "$root"
    trap - EXIT
}

docker info >/dev/null 2>&1 || { log "no Docker daemon reachable (docker info failed)"; exit 1; }

current=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)
if ! $rebuild && [ "$current" = "$KEY" ]; then
    log "$IMAGE is present ($KEY)"
else
    if $rebuild || [ ! -s "$TARBALL" ]; then
        bootstrap
    else
        log "reusing cached $TARBALL"
    fi
    log "docker import $TARBALL as $IMAGE"
    docker import --change "LABEL $LABEL=$KEY" --change 'CMD ["/bin/bash"]' \
        --change 'ENV LANG=C.UTF-8' "$TARBALL" "$IMAGE" >/dev/null
fi
docker run --rm "$IMAGE" java -version 2>&1 | sed -n 1p | sed "s|^|image: $IMAGE: |"
