/**
 * Kernel arguments an admin may put in an append line: the pool the command line property tests
 * draw random appends from (roots in every form, ip= in every form, BOOTIF, single-valued settings).
 */
export const TOKENS = [
  'root=nfs4:10.0.0.1:/srv/a', 'root=nfs:10.0.0.2:/srv/b:vers=3,nolock', 'root=10.0.0.3:/srv/c', 'root=/dev/nfs', 'root=dhcp',
  'root=nfs://10.0.0.1/x', 'root=/dev/sda1', 'root=nfs4:files.example:/srv/d', 'nfsroot=10.0.0.4:/srv/e,vers=4.2', 'nfsroot=/srv/f',
  'nfsroot=host.example:/srv/g', 'ip=dhcp', 'ip=on', 'ip=eth0:dhcp', 'ip=eth1:dhcp', 'ip=10.0.0.9::10.0.0.1:255.255.255.0:h::none',
  'ip=10.0.0.9::10.0.0.1:255.255.255.0:h:eth0:none', 'ip=:::::eth1:dhcp', 'ip=none', 'ip=dhcp6', 'ip=bootp', 'ip=10.0.0.9:::::eth0:dhcp',
  'BOOTIF=01-52-54-00-12-34-56', 'BOOTIF=01-52-54-00-aa-bb-cc', 'ro', 'rw', 'selinux=1', 'selinux=0', 'quiet', 'console=ttyS0',
  'console=hvc0', 'rd.shell', 'rd.shell=0', 'panic=1', 'rd.neednet=0', 'rd.neednet=1', 'xenroot.overlay=0', 'systemd.unit=multi-user.target', 'foo=bar',
];
