/**
 * /etc/exports lines for the images, and the marked managed block used wherever xenroot shares a
 * file with the admin (/etc/exports, a dnsmasq or dhcpd config). Pure.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import { mergeExportOptions } from '../inventory/exports.js';

export const BLOCK_BEGIN = '# BEGIN xenroot managed block: `xenroot sync` rewrites the lines up to END; edit outside it';
export const BLOCK_END = '# END xenroot managed block';

export interface ExportsInput {
  /** Export path per image name, with the image's own exports(5) options (over the site's). */
  exports: { image: string; path: string; options?: string | undefined }[];
  /** Client networks (site.allow); never widened to `*` unless it is listed. */
  allow: string[];
  options: string;
  insecure: boolean;
  /** The NFSv4 pseudo-root, exported with fsid=0 (site.exports.pseudoRoot). */
  pseudoRoot?: string | undefined;
}


/** A path exports(5) reads as one token: no white space, no "(" (it would start the options), not "#" first. */
function checkExportPath(path: string, image: string): string {
  if (/[\s()"\\]/.test(path) || /[\u0000-\u001f\u007f]/.test(path))
    throw new RenderError(`export path "${path}" of image ${image} contains white space, a parenthesis, a quote or a backslash; /etc/exports cannot carry it as written`);
  return path;
}

/**
 * One line per distinct export path: `PATH NET(OPTS) NET(OPTS)` (no space before "(": exports(5)
 * reads `NET (OPTS)` as an export to everyone), preceded by the NFSv4 pseudo-root's line when
 * there is one; none when allow is empty.
 */
export function renderExportLines(input: ExportsInput): string[] {
  if (input.allow.length === 0) return [];
  const byPath = new Map<string, { images: string[]; options: string | undefined }>();
  for (const e of input.exports) {
    checkExportPath(e.path, e.image);
    const had = byPath.get(e.path);
    if (had && (had.options ?? '') !== (e.options ?? ''))
      throw new RenderError(`images ${had.images[0]} and ${e.image} export ${e.path} with different options`, { hint: 'give them the same exportOptions' });
    byPath.set(e.path, { images: [...(had?.images ?? []), e.image], options: e.options });
  }
  const clients = (opts: string) => input.allow.map((net) => `${net}(${opts})`).join(' ');
  const lines: string[] = [];
  if (input.pseudoRoot !== undefined && byPath.size > 0) {
    const root = checkExportPath(input.pseudoRoot, 'pseudo-root');
    // The pseudo-root itself: read-only, crossmnt so that the exports below it are reachable.
    const opts = mergeExportOptions(input.options, 'ro,fsid=0,crossmnt', input.insecure);
    lines.push(`# NFSv4 pseudo-root (site.exports.pseudoRoot): NFSv4 clients name paths relative to it\n${root} ${clients(opts)}`);
  }
  for (const [path, { images, options }] of [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)))
    lines.push(`# image ${images.join(', ')}\n${path} ${clients(mergeExportOptions(input.options, options, input.insecure))}`);
  return lines;
}

/** A whole exports.d file owned by xenroot. */
export function renderExportsFile(input: ExportsInput): string {
  const lines = [generatedHeader()];
  if (input.allow.length === 0) lines.push('# site.allow is empty: no image is exported (xenroot never exports to "*" unless site.allow says so)');
  lines.push(...renderExportLines(input), '');
  return lines.join('\n');
}

/** The body of the managed block inside /etc/exports (no markers). */
export function renderExportsBlock(input: ExportsInput): string {
  const lines = renderExportLines(input);
  if (input.allow.length === 0) lines.unshift('# site.allow is empty: no image is exported');
  return lines.join('\n');
}

/**
 * Replaces (or appends) the marked block in `existing` with `body`; `body` undefined removes the
 * block. Every line outside the markers is kept byte for byte.
 */
export function mergeManagedBlock(existing: string | undefined, body: string | undefined): string {
  const text = existing ?? '';
  const lines = text.split('\n');
  const begin = lines.findIndex((l) => l.trimEnd() === BLOCK_BEGIN);
  const end = begin < 0 ? -1 : lines.findIndex((l, i) => i > begin && l.trimEnd() === BLOCK_END);
  const block = body === undefined ? [] : [BLOCK_BEGIN, ...(body ? body.replace(/\n+$/, '').split('\n') : []), BLOCK_END];
  if (begin >= 0 && end > begin) {
    lines.splice(begin, end - begin + 1, ...block);
    return lines.join('\n');
  }
  if (body === undefined) return text;
  if (begin >= 0) throw new RenderError(`a "${BLOCK_BEGIN}" line has no matching "${BLOCK_END}" line`, { hint: 'repair the managed block by hand (add the END line or delete the BEGIN line)' });
  const prefix = text === '' ? '' : text.endsWith('\n') ? text : `${text}\n`;
  return `${prefix}${block.join('\n')}\n`;
}

/** True when `text` holds a xenroot managed block. */
export function hasManagedBlock(text: string): boolean {
  return text.split('\n').some((l) => l.trimEnd() === BLOCK_BEGIN);
}
