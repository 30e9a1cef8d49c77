#!/usr/bin/env bash
# Builds what the nested-Xen test harness boots, cached under $XENROOT_CACHE/xen (default
# .cache/xen) in a folder named by a hash of every input; prints that folder on stdout.
#   xen.elf        Xen hypervisor (multiboot ELF) from Debian's xen-hypervisor-4.17-amd64 .deb
#                  (apt-get download + dpkg -x + gunzip; the Xen packages are never installed here)
#   vmlinuz        dom0 kernel, from Debian's linux-image-6.1.0-*-amd64 .deb
#   dom0-initrd.gz tiny busybox initramfs: loads virtio-blk + ext4, switch_roots to /dev/vda
#   dom0.ext4      dom0 root: Debian bookworm by mmdebstrap from this machine's apt sources, with
#                  xen-utils-4.17 (same version as xen.elf), libvirtd + libxl driver; init = dom0/init
#   id_ed25519[.pub] a test client key pair, allowed as root in dom0's sshd (xen+ssh:// tests)
#   ssh_host_ed25519_key.pub dom0's sshd host key (the harness writes known_hosts from it)
#   manifest.json  versions, sizes, build time
# Needs root (mmdebstrap, ownership in the image), mmdebstrap, dpkg, e2fsprogs, busybox-static.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${XENROOT_CACHE:-$repo/.cache}"
xcache="$cache/xen"
mkdir -p "$xcache/debs"
log() { echo "build-dom0: $*" >&2; }
start=$(date +%s)

# --- versions (from apt's view of this machine's sources) ---
xenver=$(apt-cache policy xen-hypervisor-4.17-amd64 | awk '/Candidate:/{print $2}')
[ -n "$xenver" ] && [ "$xenver" != "(none)" ] || { log "xen-hypervisor-4.17-amd64 not known to apt (run apt-get update)"; exit 2; }
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/{print $2; exit}')
[ -n "$kpkg" ] || { log "cannot resolve linux-image-amd64 to a linux-image-6.1 package (run apt-get update)"; exit 2; }
kver=${kpkg#linux-image-}

PKGS="xen-utils-4.17=$xenver,xen-utils-common=$xenver,xenstore-utils=$xenver,libvirt-daemon,libvirt-daemon-driver-xen,libvirt-clients,iproute2,kmod,busybox,bridge-utils,util-linux,procps,openssh-server"

# --- cache key: every input ---
key=$( {
  echo "xen=$xenver kernel=$kpkg pkgs=$PKGS"
  cat "$here/build-dom0.sh" "$here"/dom0/*
} | sha256sum | cut -c1-16)
out="$xcache/dom0-$key"
# one build at a time per cache (concurrent test runs wait, then find the result)
exec 9>"$xcache/.lock"
flock 9
if [ -f "$out/manifest.json" ]; then
  log "cached: $out"
  echo "$out"; exit 0
fi
log "building $out (xen $xenver, kernel $kpkg)"

work=$(mktemp -d "$xcache/build.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- .debs: xen hypervisor + kernel (kernel shared with the initrd engineer's cache when present) ---
fetch_deb() { # NAME [VERSION] -> path of the .deb
  local name=$1 ver=${2:-} f
  for f in "$cache"/debs/"${name}"_*.deb "$xcache"/debs/"${name}"_*.deb; do
    [ -f "$f" ] || continue
    if [ -z "$ver" ] || [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then echo "$f"; return; fi
  done
  (cd "$xcache/debs" && apt-get download -q "${name}${ver:+=$ver}" >&2)
  ls -t "$xcache"/debs/"${name}"_*.deb | head -n1
}
xdeb=$(fetch_deb xen-hypervisor-4.17-amd64 "$xenver")
kdeb=$(fetch_deb "$kpkg")
log "xen deb: $xdeb"; log "kernel deb: $kdeb"

mkdir -p "$work/out" "$work/xen" "$work/kernel"
dpkg -x "$xdeb" "$work/xen"
gunzip -c "$work/xen/boot/xen-4.17-amd64.gz" >"$work/out/xen.elf"
dpkg -x "$kdeb" "$work/kernel"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/out/vmlinuz"
# the PV network frontend, for the harness's marker guests (no other dependencies)
cp "$work/kernel/lib/modules/$kver/kernel/drivers/net/xen-netfront.ko" "$work/out/xen-netfront.ko"

# --- dom0 root: this machine's Debian bookworm sources only (never a hard-coded mirror) ---
srcs="$work/sources.list"
: >"$srcs"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  grep -E '^[[:space:]]*deb[[:space:]]' "$f" | grep -E '[[:space:]]bookworm(-updates|-security)?[[:space:]]' >>"$srcs" || true
done
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  # deb822 stanzas: keep those whose Suites are bookworm ones; turn each into one-line entries
  awk -v RS= '
    { types=""; uris=""; suites=""; comps=""; signed=""; n=split($0, L, "\n")
      for (i = 1; i <= n; i++) { line = L[i]; if (line ~ /^#/) continue
        k = line; sub(/:.*/, "", k); v = line; sub(/^[^:]*:[ \t]*/, "", v)
        if (k == "Types") types = v; else if (k == "URIs") uris = v; else if (k == "Suites") suites = v
        else if (k == "Components") comps = v; else if (k == "Signed-By") signed = v; else if (k == "Enabled" && v == "no") types = "" }
      if (types !~ /(^| )deb( |$)/) next
      ns = split(suites, S, " "); nu = split(uris, U, " ")
      for (s = 1; s <= ns; s++) { if (S[s] !~ /^bookworm(-updates|-security)?$/) continue
        for (u = 1; u <= nu; u++) printf "deb %s %s %s\n", U[u], S[s], comps } }' "$f" >>"$srcs"
done
[ -s "$srcs" ] || { log "no Debian bookworm entries in this machine's apt sources"; exit 2; }
log "apt sources for dom0:"; sed 's/^/  /' "$srcs" >&2

# The mmdebstrap result is cached on its own (keyed by packages + sources), so a change to the
# dom0 scripts rebuilds in seconds.
bkey=$( { echo "$PKGS"; cat "$srcs"; } | sha256sum | cut -c1-16)
base="$xcache/base-$bkey.tar"
if [ ! -f "$base" ]; then
  mmdebstrap --variant=minbase --mode=root --format=tar --skip=check/empty \
    --include="$PKGS" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$work/base.tar" "$srcs" >&2
  mv "$work/base.tar" "$base"
  # keep the 3 newest bases (branches that share a cache may differ in packages)
  ls -t "$xcache"/base-*.tar | tail -n +4 | xargs -r rm -f
fi
root="$work/root"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base"

# kernel modules into the root (modules.dep made as an installed kernel would have it)
mkdir -p "$root/lib/modules"
cp -a "$work/kernel/lib/modules/$kver" "$root/lib/modules/$kver"
depmod -b "$root" "$kver"

# no qemu driver in dom0: Debian's monolithic libvirtd dies when it cannot initialise it
rm -f "$root"/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so
cat >"$root/etc/libvirt/libvirtd.conf" <<'CONF'
# throwaway nested-Xen test dom0 only: TCP without auth, reached through a QEMU hostfwd on loopback
listen_tls = 0
listen_tcp = 1
tcp_port = "16509"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0770"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
install -m 755 "$here/dom0/init" "$root/usr/local/sbin/xenroot-dom0-init"
install -m 755 "$here/dom0/agent" "$root/usr/local/sbin/xenroot-agent"
install -m 755 "$here/dom0/udhcpc.script" "$root/usr/local/sbin/xenroot-udhcpc"
mv "$root/etc/xen/scripts/vif-bridge" "$root/etc/xen/scripts/vif-bridge.xen"
install -m 755 "$here/dom0/vif-bridge" "$root/etc/xen/scripts/vif-bridge"
# sshd for xen+ssh://: host key made here, root login by the build's test key only
rm -f "$root"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C xenroot-dom0 -f "$root/etc/ssh/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C xenroot-test-client -f "$work/out/id_ed25519"
mkdir -p "$root/root/.ssh"; chmod 700 "$root/root/.ssh"
cp "$work/out/id_ed25519.pub" "$root/root/.ssh/authorized_keys"; chmod 600 "$root/root/.ssh/authorized_keys"
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nHostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/xenroot.conf"
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$work/out/ssh_host_ed25519_key.pub"
echo xenroot-dom0 >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 xenroot-dom0\n' >"$root/etc/hosts"
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*

# --- dom0 initramfs: static busybox + virtio-blk/ext4 modules in dependency order ---
ird="$work/initramfs"
mkdir -p "$ird/bin" "$ird/lib/modules" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot"
cp /bin/busybox "$ird/bin/busybox"
install -m 755 "$here/dom0/initramfs-init" "$ird/init"
mdir="$root/lib/modules/$kver"
declare -A seen=()
order=()
add_mod() { # NAME: the module and its dependencies (deps first), from modules.dep
  local rel dep
  rel=$(modprobe -d "$root" -S "$kver" --show-depends "$1" 2>/dev/null | awk '$1=="insmod"{print $2}') || true
  for dep in $rel; do
    dep=${dep#"$mdir"/}
    [ -n "${seen[$dep]:-}" ] && continue
    seen[$dep]=1; order+=("$dep")
  done
}
for m in virtio_pci virtio_blk crc32c_generic ext4; do add_mod "$m"; done
: >"$ird/modules.order"
for rel in "${order[@]}"; do
  mkdir -p "$ird/lib/modules/$(dirname "$rel")"
  case "$rel" in
    *.ko.xz) xz -dc "$mdir/$rel" >"$ird/lib/modules/${rel%.xz}"; echo "${rel%.xz}" >>"$ird/modules.order" ;;
    *) cp "$mdir/$rel" "$ird/lib/modules/$rel"; echo "$rel" >>"$ird/modules.order" ;;
  esac
done
log "initramfs modules: ${order[*]}"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/out/dom0-initrd.gz"

# --- ext4 image of the root, no loop mount (mkfs.ext4 -d) ---
used=$(du -sm "$root" | cut -f1)
size=$((used + 512))
mkfs.ext4 -q -F -L xenroot-dom0 -d "$root" "$work/out/dom0.ext4" "${size}M"

end=$(date +%s)
sz() { stat -c %s "$1"; }
cat >"$work/out/manifest.json" <<JSON
{
  "key": "$key",
  "xenVersion": "$xenver",
  "kernelPackage": "$kpkg",
  "kernelVersion": "$kver",
  "buildSeconds": $((end - start)),
  "rootfsMiB": $used,
  "bytes": {
    "xen.elf": $(sz "$work/out/xen.elf"),
    "vmlinuz": $(sz "$work/out/vmlinuz"),
    "dom0-initrd.gz": $(sz "$work/out/dom0-initrd.gz"),
    "dom0.ext4": $(sz "$work/out/dom0.ext4"),
    "dom0.ext4.allocated": $(( $(stat -c %b "$work/out/dom0.ext4") * 512 ))
  }
}
JSON
rm -rf "$out"
mv "$work/out" "$out"
# keep the 3 newest builds (branches that share a cache may differ in dom0 scripts)
ls -dt "$xcache"/dom0-* | tail -n +4 | xargs -r rm -rf
log "done in $((end - start)) s: $out"
cat "$out/manifest.json" >&2
echo "$out"
