/**
 * /etc/exports lines for the images, and the marked managed block used wherever xenroot shares a
 * file with the admin (/etc/exports, a dnsmasq or dhcpd config). Pure.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';

export const BLOCK_BEGIN = '# BEGIN xenroot managed block: `xenroot sync` rewrites the lines up to END; edit outside it';
export const BLOCK_END = '# END xenroot managed block';

export interface ExportsInput {
  /** Export path per image name. */
  exports: { image: string; path: string }[];
  /** Client networks (site.allow); never widened to `*` unless it is listed. */
  allow: string[];
  options: string;
  insecure: boolean;
}

export function exportOptions(options: string, insecure: boolean): string {
  const opts = options.split(',').filter(Boolean);
  if (insecure && !opts.includes('insecure')) opts.push('insecure');
  return opts.join(',');
}

/** One line per distinct export path: `PATH NET(OPTS) NET(OPTS)`; none when allow is empty. */
export function renderExportLines(input: ExportsInput): string[] {
  if (input.allow.length === 0) return [];
  const opts = exportOptions(input.options, input.insecure);
  const byPath = new Map<string, string[]>();
  for (const e of input.exports) {
    if (/\s/.test(e.path)) throw new RenderError(`export path "${e.path}" of image ${e.image} contains white space; /etc/exports cannot carry it`);
    byPath.set(e.path, [...(byPath.get(e.path) ?? []), e.image]);
  }
  const clients = input.allow.map((net) => `${net}(${opts})`).join(' ');
  return [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([path, images]) => `# image ${images.join(', ')}\n${path} ${clients}`);
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
