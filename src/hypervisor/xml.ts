/**
 * Reading what we need out of libvirt domain XML (live or defined), with fast-xml-parser: a
 * maintained parser that handles entities, comments and CDATA as XML says, instead of patterns.
 * Rendering XML is src/render's job; this only reads it back. Pure.
 */
import { XMLParser } from 'fast-xml-parser';
import { HypervisorError } from '../sys/errors.js';
import type { InterfaceInfo } from './types.js';

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Elements that may repeat are always arrays, so one NIC and three NICs read the same way.
  isArray: (name, jpath) => jpath === 'domain.devices.interface',
});

function domainOf(xml: string): Node {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new HypervisorError(`libvirt returned a document that is not well-formed XML: ${(err as Error).message}`);
  }
  const domain = doc.domain;
  if (!domain || typeof domain !== 'object') throw new HypervisorError('libvirt returned a document that is not domain XML');
  return domain as Node;
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') {
    const t = (v as Node)['#text'];
    return t === undefined ? undefined : String(t);
  }
  return String(v);
}

function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const v = (node as Node)[`@${name}`];
  return v === undefined ? undefined : String(v);
}

/** The <name> of a domain XML document. */
export function nameFromDomainXml(xml: string): string {
  const name = text(domainOf(xml).name)?.trim();
  if (!name) throw new HypervisorError('domain XML has no <domain><name>', { hint: 'render it with `xenroot render NAME`' });
  return name;
}

/** The <uuid> of a domain XML document, if any. */
export function uuidFromDomainXml(xml: string): string | undefined {
  return text(domainOf(xml).uuid)?.trim() || undefined;
}

/** The NICs of a domain XML document, in document order. A NIC without <mac> gets mac ''. */
export function interfacesFromDomainXml(xml: string): InterfaceInfo[] {
  const devices = domainOf(xml).devices as Node | undefined;
  const nics = (devices?.interface as Node[] | undefined) ?? [];
  return nics.map((nic) => ({
    mac: (attr(nic.mac, 'address') ?? '').toLowerCase(),
    source: attr(nic.source, 'bridge') ?? attr(nic.source, 'network') ?? attr(nic.source, 'dev'),
    target: attr(nic.target, 'dev'),
  }));
}
