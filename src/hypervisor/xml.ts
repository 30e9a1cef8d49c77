/**
 * Reading what we need out of libvirt domain XML (live or defined). Pure functions; rendering XML
 * is src/render's job, this only reads it back.
 */
import { convert } from 'xmlbuilder2';
import { HypervisorError } from '../errors.js';
import type { InterfaceInfo } from './types.js';

type XmlNode = { [key: string]: XmlValue };
type XmlValue = string | XmlNode | XmlValue[] | undefined;

function parse(xml: string): XmlNode {
  try {
    return convert(xml, { format: 'object' }) as unknown as XmlNode;
  } catch (err) {
    throw new HypervisorError(`libvirt returned domain XML that does not parse: ${(err as Error).message}`, { cause: err });
  }
}

function asArray(v: XmlValue): XmlValue[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function asNode(v: XmlValue): XmlNode | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

function text(v: XmlValue): string | undefined {
  if (typeof v === 'string') return v;
  const n = asNode(v);
  const t = n?.['#'];
  return typeof t === 'string' ? t : undefined;
}

function attr(v: XmlValue, name: string): string | undefined {
  const a = asNode(v)?.[`@${name}`];
  return typeof a === 'string' ? a : undefined;
}

/** The <name> of a domain XML document. */
export function nameFromDomainXml(xml: string): string {
  const domain = asNode(parse(xml)['domain']);
  const name = domain ? text(domain['name'])?.trim() : undefined;
  if (!name) throw new HypervisorError('domain XML has no <domain><name>', { hint: 'render it with `xenroot render NAME`' });
  return name;
}

/** The NICs of a domain XML document, in document order. A NIC without <mac> gets mac ''. */
export function interfacesFromDomainXml(xml: string): InterfaceInfo[] {
  const domain = asNode(parse(xml)['domain']);
  const devices = asNode(asArray(domain?.['devices'])[0]);
  return asArray(devices?.['interface']).map((iface) => {
    const source = asArray(asNode(iface)?.['source'])[0];
    return {
      mac: (attr(asArray(asNode(iface)?.['mac'])[0], 'address') ?? '').toLowerCase(),
      source: attr(source, 'bridge') ?? attr(source, 'network') ?? attr(source, 'dev'),
      target: attr(asArray(asNode(iface)?.['target'])[0], 'dev'),
    };
  });
}

/** The <uuid> of a domain XML document, if any. */
export function uuidFromDomainXml(xml: string): string | undefined {
  const domain = asNode(parse(xml)['domain']);
  return domain ? text(domain['uuid'])?.trim() || undefined : undefined;
}

/**
 * Puts `uuid` into rendered domain XML that has none, right after <name>, so that redefining an
 * existing domain updates it instead of clashing with it ("already exists with uuid ...").
 */
export function withUuid(xml: string, uuid: string): string {
  if (!/^[0-9a-fA-F-]{32,36}$/.test(uuid)) throw new HypervisorError(`libvirt returned a malformed domain UUID: ${JSON.stringify(uuid)}`);
  if (uuidFromDomainXml(xml)) return xml;
  return xml.replace(/(<name>[^<]*<\/name>)(\s*)/, (_m, name: string, ws: string) => `${name}${ws}<uuid>${uuid}</uuid>${ws}`);
}
