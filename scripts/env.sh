# Shared settings for the project's scripts (sourced, not run).
#
# Everything built or installed outside the checkout lives under WEFT_CACHE,
# so a fresh clone on a machine that has run these scripts before reuses it.
# shellcheck shell=bash
WEFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WEFT_CACHE=${WEFT_CACHE:-/var/cache/weft}
mkdir -p "$WEFT_CACHE"
if [[ -z ${CARGO_TARGET_DIR:-} && -f $WEFT_ROOT/.git ]]; then
    # A linked git worktree (parallel work on one machine) builds into its
    # own target dir: cargo gives the workspace's crates the same artifact
    # names in every checkout and judges freshness by file times, so two
    # checkouts sharing one dir could each link the other's code. The dir
    # starts as a hard-linked copy of the shared one (dependencies stay
    # built) without the workspace crates' fingerprints.
    CARGO_TARGET_DIR=$WEFT_CACHE/target-$(basename "$WEFT_ROOT")
    # Incremental caches of several checkouts fill the disk quickly.
    export CARGO_INCREMENTAL=0
    if [[ ! -d $CARGO_TARGET_DIR && -d $WEFT_CACHE/target ]]; then
        cp -al "$WEFT_CACHE/target" "$CARGO_TARGET_DIR.tmp"
        find "$CARGO_TARGET_DIR.tmp" -path '*/.fingerprint/weft-*' -prune -exec rm -rf {} +
        mv "$CARGO_TARGET_DIR.tmp" "$CARGO_TARGET_DIR"
    fi
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$WEFT_CACHE/target}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Debian packages the scripts need, installed only when missing.
need_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        echo "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}
