/**
 * The inventory file's bytes as xenroot reads and writes them. xenroot keeps what it does not
 * own: a UTF-8 byte-order mark and CRLF line ends survive a write (the editing code sees plain
 * LF text; the file is written back the way it came). A file that is not valid UTF-8 is refused
 * with the line of the first bad byte, never rewritten with U+FFFD in its place.
 */
import { InventoryError } from '../sys/errors.js';

export interface TextFormat {
  eol: '\n' | '\r\n';
  bom: boolean;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstBadByte(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i] as number;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0) return i;
    try {
      decoder.decode(buf.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return -1;
}

/** Decodes the file's bytes; InventoryError `FILE:LINE: not valid UTF-8 (byte 0xff) ...` when they are not text. */
export function decodeInventory(buf: Uint8Array, file: string): { text: string; format: TextFormat } {
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    const at = firstBadByte(buf);
    const line = at < 0 ? 1 : buf.subarray(0, at).reduce((n, c) => n + (c === 0x0a ? 1 : 0), 1);
    const byte = at < 0 ? '' : ` (byte 0x${(buf[at] as number).toString(16).padStart(2, '0')})`;
    throw new InventoryError(`${file}:${line}: the inventory is not valid UTF-8${byte}`, {
      hint: 'xenroot keeps bytes it does not own and will not rewrite this file: fix that line (e.g. iconv -f latin1 -t utf-8)',
    });
  }
  const bom = text.startsWith('\ufeff');
  if (bom) text = text.slice(1);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  if (eol === '\r\n') text = text.replace(/\r\n/g, '\n');
  return { text, format: { eol, bom } };
}

/** The file's text as it is written: the line ends and byte-order mark it was read with. */
export function encodeInventory(text: string, format: TextFormat): string {
  const body = format.eol === '\r\n' ? text.replace(/\r?\n/g, '\r\n') : text;
  return format.bom ? `\ufeff${body}` : body;
}
