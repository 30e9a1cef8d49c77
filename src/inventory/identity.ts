/**
 * The per-node identity of guests and clients, as data: host name, static address,
 * and the rules between nodes and the site that make them mean what they say (one address per
 * node, inside the networks the exports allow, a prefix wherever no DHCP reservation can hand
 * the address out, a gateway inside the node's network, no per-node file over what xenroot
 * writes itself). Pure.
 */
import { isIPv4 } from 'node:net';
import { resolve } from 'node:path';
import { allowCovers } from './exports.js';
import { defaultHostname, ipv4Number, prefixMask } from './validate.js';

/** What the identity rules read of a node. */
export interface IdentityNode {
  hostname?: string | undefined;
  address?: string | undefined;
  gateway?: string | undefined;
  files?: Record<string, unknown> | undefined;
}

interface IdentityModel {
  site: { allow: string[]; dhcp: { server: string; proxy: boolean; subnet?: string | undefined } };
  guests: Record<string, IdentityNode>;
  clients: Record<string, IdentityNode>;
  groups?: Record<string, { files?: Record<string, unknown> | undefined }>;
}

/** A node's static address resolved: the IPv4, its prefix length where known, its gateway. */
export interface NodeAddress {
  ip: string;
  /** From the address (/24), else from site.dhcp.subnet when it holds the address; undefined: unknown. */
  prefix: number | undefined;
  gateway: string | undefined;
}

/** The host name of a node: its `hostname`, else its name made a host name. */
export function nodeHostname(name: string, node: IdentityNode): string {
  return node.hostname ?? defaultHostname(name);
}

/** The static address of a node, or undefined when it has none. */
export function nodeAddress(site: IdentityModel['site'], node: IdentityNode): NodeAddress | undefined {
  if (!node.address) return undefined;
  const [ip, bits] = node.address.split('/') as [string, string | undefined];
  let prefix = bits === undefined ? undefined : Number(bits);
  if (prefix === undefined && site.dhcp.subnet) {
    const [net, nbits] = site.dhcp.subnet.split('/') as [string, string];
    const mask = prefixMask(Number(nbits));
    if (((ipv4Number(ip) & mask) >>> 0) === ((ipv4Number(net) & mask) >>> 0)) prefix = Number(nbits);
  }
  return { ip, prefix, gateway: node.gateway };
}

/** Paths of a node's root that xenroot writes itself from the identity (a per-node file may not replace them). */
export const MANAGED_NODE_PATHS = [/^\/etc\/hostname$/, /^\/etc\/ssh\/ssh_host_[a-z0-9]+_key(\.pub)?$/, /^\/etc\/xenroot\/node\.conf$/];

/** The rules between nodes and the site (part of the schema's rules between entries). */
export function identityIssues(inv: IdentityModel): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const site = inv.site;
  const dhcpHandsOut = site.dhcp.server !== 'none' && !site.dhcp.proxy;
  const owners = new Map<string, string>();
  const check = (section: 'guests' | 'clients', name: string, node: IdentityNode) => {
    issues.push(...managedFileIssues([section, name], node.files, 'a per-node file'));
    const a = nodeAddress(site, node);
    if (node.gateway && !a) issues.push({ path: [section, name, 'gateway'], message: 'is set without an address' });
    if (!a) return;
    const who = `${section === 'guests' ? 'guest' : 'client'} ${name}`;
    const other = owners.get(a.ip);
    if (other) issues.push({ path: [section, name, 'address'], message: `${a.ip} is already the address of ${other}` });
    else owners.set(a.ip, who);
    if (a.prefix === undefined && !dhcpHandsOut)
      issues.push({
        path: [section, name, 'address'],
        message: `needs its prefix length (${a.ip}/24, say): ${site.dhcp.server === 'none' ? 'xenroot writes no DHCP reservation here (site.dhcp.server: none)' : 'in proxy mode the other DHCP server hands out addresses'} and site.dhcp.subnet does not hold ${a.ip}`,
      });
    if (a.gateway && a.prefix !== undefined) {
      const mask = prefixMask(a.prefix);
      if (isIPv4(a.gateway) && ((ipv4Number(a.gateway) & mask) >>> 0) !== ((ipv4Number(a.ip) & mask) >>> 0))
        issues.push({ path: [section, name, 'gateway'], message: `${a.gateway} is outside the node's network ${a.ip}/${a.prefix}` });
    }
    const verdicts = site.allow.map((entry) => allowCovers(entry, a.ip));
    if (site.allow.length > 0 && verdicts.every((v) => v === false))
      issues.push({ path: [section, name, 'address'], message: `${a.ip} is in none of site.allow (${site.allow.join(', ')}): the exports would refuse this node its root` });
  };
  for (const [name, g] of Object.entries(inv.guests)) check('guests', name, g);
  for (const [name, c] of Object.entries(inv.clients)) check('clients', name, c);
  // A group's files land in every member's piece: the same rule.
  for (const [name, g] of Object.entries(inv.groups ?? {})) issues.push(...managedFileIssues(['groups', name], g.files, "a group's file"));
  return issues;
}

/** Files (of a node or a group at `at`) over a path xenroot writes from the node's identity. */
function managedFileIssues(at: string[], files: Record<string, unknown> | undefined, what: string): { path: string[]; message: string }[] {
  return Object.keys(files ?? {})
    .filter((path) => MANAGED_NODE_PATHS.some((re) => re.test(path)))
    .map((path) => ({ path: [...at, 'files', path], message: `is written by xenroot from the node's identity (${path === '/etc/hostname' ? 'set hostname instead' : 'site.identity'}); ${what} may not replace it` }));
}

/**
 * A guest's own ramdisk for one flavour (xen, qemu): IMAGEBOOTDIR/nodes/NAME/<the image initrd's
 * name>, made of the image's initrd and the guest's identity piece (a Xen PV guest boots one
 * ramdisk). Beside the image's initrd, so that a guest moved to another image (or revision)
 * names another file.
 */
export function guestRamdiskPath(imageInitrd: string, guestName: string): string {
  const slash = imageInitrd.lastIndexOf('/');
  return `${imageInitrd.slice(0, slash)}/nodes/${guestName}/${imageInitrd.slice(slash + 1)}`;
}

/** Identity values a command line sets (client add/set, create, set). "" removes a value. */
export interface IdentityFlags {
  hostname?: string;
  address?: string;
  gateway?: string;
  /** `--file DEST=SOURCE`, repeatable: DEST gets SOURCE's content at every sync; `DEST=` removes DEST. */
  files?: string[];
}

/**
 * The `files` edits of `--file DEST=SOURCE` flags: SOURCE made absolute (relative to the current
 * directory, where the admin typed it); an empty SOURCE removes DEST. Throws nothing: the caller
 * checks the result with the schema's own rule.
 */
export function fileFlags(specs: string[], cwd: string): { set: Record<string, { source: string }>; remove: string[]; bad: string[] } {
  const set: Record<string, { source: string }> = {};
  const remove: string[] = [];
  const bad: string[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) {
      bad.push(spec);
      continue;
    }
    const dest = spec.slice(0, eq);
    const src = spec.slice(eq + 1);
    if (src === '') remove.push(dest);
    else set[dest] = { source: resolve(cwd, src) };
  }
  return { set, remove, bad };
}
