#!/usr/bin/env bash
# Installs everything xenroot, its demo and its test suite need on Debian 12, then the npm
# dependencies, then builds. Idempotent: packages already present are not touched.
# Never starts a service: a policy-rc.d that forbids it is in place while apt runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js 20.17+ with npm is the one prerequisite (Debian 12's own nodejs is 18: too old).
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=17)?0:1)'; then
  echo "setup: xenroot needs Node.js 20.17 or newer with npm (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

DEBS=(
  # build of native npm modules (@unraid/libvirt, node-pty)
  build-essential python3 pkg-config libvirt-dev
  # libvirt: daemon with the qemu driver, clients, schema validation
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils
  # QEMU and PXE
  qemu-system-x86 ipxe-qemu pxelinux syslinux-common
  # userspace NFS server for tests and the demo
  nfs-ganesha nfs-ganesha-vfs
  # a userspace NFS client (nfs-ls): the security test tries, as root and as an unprivileged user, to
  # read the private server's export from the host, where the kernel may have no NFS client
  libnfs-utils
  # initrd builders and image tools
  busybox-static dracut dracut-network cpio gzip zstd xz-utils kmod e2fsprogs util-linux
  # dracut's nfs module needs mount.nfs (nfs-common is only a Recommends of dracut-network)
  nfs-common
  # misc used by scripts and tests
  iproute2 procps file ca-certificates
  # nested-Xen test harness: builds the dom0 root filesystem (scripts/xen/build-dom0.sh)
  mmdebstrap
  # client discovery against real DHCP servers' leases (dnsmasq runs only inside a test's netns; never started as a service), zsh completion test
  dnsmasq-base isc-dhcp-server zsh
  # the Kea DHCP flavour: kea-dhcp4 -t judges every generated config, and a real kea-dhcp4 serves the
  # Kea PXE test inside its own network namespace (its service never starts: see the policy-rc.d below)
  kea-dhcp4-server
  # image revisions: copies hard-linked against the previous revision; TFTP servers the
  # per-node links are checked against (test/revisions/tftp-links.e2e.test.ts), fetched with curl
  rsync tftpd-hpa curl
  # UEFI network boot: loaders staged into the TFTP tree, OVMF firmware for the UEFI tests, grub-script-check
  syslinux-efi ipxe grub-efi-amd64-signed shim-signed grub-common ovmf
  # the real config parsers tests run (dnsmasq --test, dhcpd -t above; exportfs -ra): never started
  nfs-kernel-server
  # per-node SSH host keys (ssh-keygen)
  openssh-client
  # an image's own initrd builder (dracut, mkinitramfs, mkinitrd) runs in a bwrap sandbox, never on the host
  bubblewrap
  # systemd-analyze verifies the hvc0 getty unit xenroot writes against the stock serial-getty@.service
  # (a minimal Debian root, e.g. a container, has no systemd)
  systemd
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Forbid service starts during the install (rpcbind, libvirtd, ... must never start by themselves).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  trap '[ $made_policy = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The site's exports drop-in directory: sync writes xenroot.exports there when it exists, and the
# exportfs test bind-mounts a private one over it (no Debian package creates it).
[ -d /etc/exports.d ] || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO install -d -m 755 /etc/exports.d; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi
npm run -s build >&2
