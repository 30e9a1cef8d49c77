/**
 * A value for xmlbuilder2's text and attribute writers. xmlbuilder2 escapes `<`, `>` and a bare
 * `&`, but leaves `&NAME;` and `&#N;` as they are, taking them for entity references its caller
 * wrote on purpose (writers/BaseWriter.js nonEntityAmpersandRegex): a path `/srv/&lt;x` would be
 * read back by libvirt as `/srv/<x`, and `&foo;` not at all. Every `&` is made `&amp;` first, which
 * xmlbuilder2 then passes through, so the reader gets the value as it was. Characters XML 1.0
 * cannot carry are refused: RenderError naming `field` and the value. Pure.
 */
import { RenderError } from '../sys/errors.js';

// XML 1.0 Char production minus what we never want in a definition.
const XML_BAD = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

export function xmlText(field: string, value: string): string {
  if (XML_BAD.test(value)) throw new RenderError(`${field} contains a control character that XML cannot carry: ${JSON.stringify(value)}`);
  return value.replace(/&/g, '&amp;');
}
