#!/usr/bin/env bash
# Tries the README on a brand-new machine: builds a fresh Debian root with mmdebstrap (minbase: the
# least a Debian machine has, so nothing this machine happens to hold can hide a missing setup step),
# copies in only what every machine here has besides Debian (this machine's Node.js, whole and at
# the same paths; the extra CA certificates; npm's configuration), copies a fresh `git clone` of the
# current commit to /root/xenroot, and runs the README's commands there as root:
#   bash scripts/setup.sh            (timed on its own: the install of a fresh machine)
#   npm run demo                     (only with --demo)
#   npm test [-- VITEST-ARGS]        (the whole suite, or the chosen part)
#   CI=true bash .ci/run             (instead of npm test, with --ci: what CI runs, in a fresh clone)
# Then prints each step's result and time; exits non-zero when a step failed.
#
# usage: scripts/fresh-machine.sh [--suite bookworm|trixie] [--demo] [--ci] [--keep] [-- VITEST-ARGS...]
#   --suite S  Debian suite of the root (default bookworm)
#   --demo     also run `npm run demo` (after setup, before the tests)
#   --ci       run CI's command (`CI=true bash .ci/run`) instead of `npm test` (not with -- ARGS)
#   --keep     leave the root in place (for a look inside); mounts are still undone
#   -- ARGS    run only these test files/folders (`npm test -- ARGS`; the nested-Xen part is then skipped)
# Example: flock /tmp/xenroot-e2e.lock scripts/fresh-machine.sh -- test/exports test/architecture
#
# The bare root is cached as a tarball under .cache/fresh/ (keyed by suite, variant and packages),
# so a second run skips mmdebstrap. Everything else (the root, every mount, any process left running
# inside it) is removed on exit, on error and on Ctrl-C. The mounts are made in a private mount
# namespace, so they never show on the host and vanish with it. Needs root, mmdebstrap, git.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
log() { printf 'fresh-machine: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

suite=bookworm; demo=0; ci=0; keep=0; args=(); part=0
while (($#)); do
  case "$1" in
    --suite) [ $# -ge 2 ] || die "--suite needs a value (bookworm or trixie)"; suite="$2"; shift 2 ;;
    --suite=*) suite="${1#--suite=}"; shift ;;
    --demo) demo=1; shift ;;
    --ci) ci=1; shift ;;
    --keep) keep=1; shift ;;
    --) shift; args=("$@"); part=$#; break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (accepted: --suite bookworm|trixie, --demo, --ci, --keep, -- VITEST-ARGS)" ;;
  esac
done
((ci && part)) && die "--ci runs the whole of CI's command: it takes no -- VITEST-ARGS"
case "$suite" in bookworm|trixie) ;; *) die "--suite '$suite' is not supported (accepted: bookworm, trixie)" ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap --mode=root, chroot, mounts)"
for p in mmdebstrap git unshare chroot; do command -v "$p" >/dev/null || die "needs $p on PATH"; done
[ -x /usr/bin/node ] || die "needs this machine's Node.js at /usr/bin/node (it is copied into the root)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  log "note: uncommitted changes are not part of the run (it clones the current commit)"
fi

# --- the bare root, cached -------------------------------------------------------------------
VARIANT=minbase
# ca-certificates: update-ca-certificates must run inside for the site's extra CAs (FIELD-NOTES)
INCLUDE=ca-certificates
cache="${XENROOT_CACHE:-$repo/.cache}/fresh"
mkdir -p "$cache"
key=$(printf '%s\n' "$suite" "$VARIANT" "$INCLUDE" | sha256sum | cut -c1-12)
base="$cache/$suite-$VARIANT-$key.tar"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/xenroot-fresh-XXXXXX")
root="$work/root"
start_all=$SECONDS

# Undo everything: processes still running inside the root, mounts under it, the root itself.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pids=() p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root"|"$root"/*) pids+=("${p#/proc/}") ;; esac
  done
  if ((${#pids[@]})); then
    log "stopping ${#pids[@]} process(es) left inside the root: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    sleep 3
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  # The mounts live in the private namespace and are gone with it; this catches any that leaked.
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$root" | sort -r)
  if findmnt -rn -o TARGET | grep -qF "$root"; then
    log "mounts remain under $root: NOT removing it"; rc=1
  elif ((keep)); then
    log "kept the root at $root"
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

t0=$SECONDS
if [ ! -f "$base" ]; then
  log "building a bare Debian $suite root ($VARIANT + $INCLUDE) with mmdebstrap (cached as $base)"
  mmdebstrap --variant="$VARIANT" --mode=root --format=tar --include="$INCLUDE" "$suite" "$work/base.tar" >&2
  mv "$work/base.tar" "$base.part.$$" && mv "$base.part.$$" "$base"
fi
mkdir "$root"
tar -C "$root" -xf "$base"
t_root=$((SECONDS - t0))
log "root ready in ${t_root}s"

# --- what every machine here has besides Debian -------------------------------------------------
# Node.js whole and at the same places: the binary, npm/npx/corepack (npm may have been upgraded
# in place, so the trees are copied as they are, not as the package listed them), the headers.
# tar keeps links, modes and owners and makes the parent directories.
copy_in() {
  local have=() f
  for f in "$@"; do [ -e "$f" ] || [ -L "$f" ] && have+=("${f#/}"); done
  ((${#have[@]})) && tar -C / -cf - "${have[@]}" | tar -C "$root" -xf -
  return 0
}
copy_in /usr/bin/node /usr/bin/npm /usr/bin/npx /usr/bin/corepack /usr/lib/node_modules /usr/include/node \
  /usr/share/doc/nodejs /usr/share/man/man1/node.1.gz
# npm's configuration: global (/etc/npmrc, PREFIX/etc/npmrc) and root's (nodedir=/usr lets node-gyp
# build the native modules from the copied headers, without a download)
copy_in /etc/npmrc /usr/etc/npmrc /root/.npmrc
# the site's extra CA certificates, made part of the root's bundle
copy_in /usr/local/share/ca-certificates
# name resolution as on this machine (the root reaches the same mirrors and registries)
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
chroot "$root" update-ca-certificates >/dev/null

# --- a fresh clone of the current commit --------------------------------------------------------
commit=$(git -C "$repo" rev-parse HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/xenroot"
git -C "$root/root/xenroot" checkout -q --detach "$commit"
log "cloned $(git -C "$repo" log -1 --format='%h %s' | cut -c1-100)"

# --- the README's commands, inside the root, in a private mount namespace ----------------------
steps=("bash scripts/setup.sh")
((demo)) && steps+=("npm run demo")
if ((part)); then
  q=$(printf ' %q' "${args[@]}")
  steps+=("npm test --${q}")
elif ((ci)); then
  steps+=("CI=true bash .ci/run")
else
  steps+=("npm test")
fi
inner=$(cat <<'EOF'
set -u
root="$1"; shift
# the root is a mount point, as / of a real machine is (unshare --propagation needs one)
mount --bind "$root" "$root" &&
  mount --bind /proc "$root/proc" && mount --bind /sys "$root/sys" && mount --bind /dev "$root/dev" &&
  mount --bind /dev/pts "$root/dev/pts" && mount -t tmpfs -o mode=755 tmpfs "$root/run" &&
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp" || exit 3
results=()
rc=0
for step in "$@"; do
  printf '\n=== fresh-machine: %s\n' "$step" >&2
  s=$(date +%s)
  env -i HOME=/root USER=root LOGNAME=root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt ${XENROOT_SKIP_XEN:+XENROOT_SKIP_XEN=1} \
    chroot "$root" /bin/bash -c "cd /root/xenroot && $step" </dev/null
  r=$?
  results+=("$([ $r = 0 ] && echo PASS || echo "FAIL($r)")  $(( $(date +%s) - s ))s  $step")
  [ $r = 0 ] || { rc=1; break; }
done
printf '%s\n' "${results[@]}" > "$root/.fresh-results"
exit $rc
EOF
)
set +e
unshare -m --propagation private bash -c "$inner" fresh-inner "$root" "${steps[@]}"
rc=$?
set -e

echo
echo "fresh-machine: Debian $suite ($VARIANT), commit ${commit:0:12}"
echo "  root (mmdebstrap or cache): ${t_root}s"
[ -f "$root/.fresh-results" ] && sed 's/^/  /' "$root/.fresh-results"
echo "  total: $((SECONDS - start_all))s  => $([ $rc = 0 ] && echo PASSED || echo FAILED)"
exit "$rc"
