/**
 * How many runs a per-format safety property makes (issue 16: at least 1,000 per format in CI):
 * every renderer whose output a consumer parses (xl cfg, libvirt XML, pxelinux, iPXE, GRUB,
 * dnsmasq, ISC dhcpd, exports, libvirt storage pool and volume XML, known_hosts lines, ssh_config)
 * is checked by a parse-back reader over this many random inputs.
 */
export const FORMAT_RUNS = 1000;
