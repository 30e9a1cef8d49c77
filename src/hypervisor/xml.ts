/**
 * Reading what we need out of libvirt domain XML (live or defined). Pure functions; rendering XML
 * is src/render's job, this only reads it back.
 */
import { HypervisorError } from '../errors.js';
import type { InterfaceInfo } from './types.js';

// libvirt's domain XML is machine-written and regular; a full XML parser costs ~6 ms per document,
// which dominated `xenroot status` over many domains. These readers take what we need with
// patterns that hold for any well-formed domain document (comments are removed first).

function decode(v: string): string {
  return v
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&amp;/g, '&');
}

function body(xml: string): string {
  const clean = xml.replace(/<!--[\s\S]*?-->/g, '');
  if (!/<domain[\s>]/.test(clean)) throw new HypervisorError('libvirt returned a document that is not domain XML');
  return clean;
}

/** Text of the first <tag> child at the domain's top level (before <devices>). */
function topText(xml: string, tag: string): string | undefined {
  const head = xml.split(/<devices[\s>]/, 1)[0] ?? '';
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(head);
  return m?.[1] === undefined ? undefined : decode(m[1]).trim();
}

function attr(tag: string | undefined, name: string): string | undefined {
  if (!tag) return undefined;
  const m = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(tag);
  const v = m?.[1] ?? m?.[2];
  return v === undefined ? undefined : decode(v);
}

function firstTag(block: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?:\\s[^>]*)?/?>`).exec(block)?.[0];
}

/** The <name> of a domain XML document. */
export function nameFromDomainXml(xml: string): string {
  const name = topText(body(xml), 'name');
  if (!name) throw new HypervisorError('domain XML has no <domain><name>', { hint: 'render it with `xenroot render NAME`' });
  return name;
}

/** The NICs of a domain XML document, in document order. A NIC without <mac> gets mac ''. */
export function interfacesFromDomainXml(xml: string): InterfaceInfo[] {
  const devices = /<devices[\s>][\s\S]*<\/devices>/.exec(body(xml))?.[0] ?? '';
  const blocks = devices.match(/<interface(?:\s[^>]*?)?(?:\/>|>[\s\S]*?<\/interface>)/g) ?? [];
  return blocks.map((block) => {
    const source = firstTag(block, 'source');
    return {
      mac: (attr(firstTag(block, 'mac'), 'address') ?? '').toLowerCase(),
      source: attr(source, 'bridge') ?? attr(source, 'network') ?? attr(source, 'dev'),
      target: attr(firstTag(block, 'target'), 'dev'),
    };
  });
}

/** The <uuid> of a domain XML document, if any. */
export function uuidFromDomainXml(xml: string): string | undefined {
  return topText(body(xml), 'uuid') || undefined;
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
