/**
 * The nfs-ganesha configuration of xenroot's private userspace NFS server. Pure: input in, text out.
 * NFSv4 only over TCP by default (v3 on request, for a network namespace), bound to one loopback
 * address, no NLM, RQUOTA or UDP,
 * Graceless (no 90 s grace period), a private recovery directory, exports with No_Root_Squash.
 */
import { isAbsolute, posix } from 'node:path';
import { RenderError } from '../sys/errors.js';

export interface GaneshaExport {
  /** Export_Id: 1..65535, unique (0 is the pseudo root's). */
  id: number;
  /** The directory served (absolute). */
  path: string;
  /** The NFSv4 pseudo path clients mount, e.g. /export. */
  pseudo: string;
  access: 'RO' | 'RW';
}

export interface GaneshaConfigInput {
  /** A loopback address (127.0.0.0/8); xenroot never binds anything else. */
  bindAddr: string;
  port: number;
  /** Directory for NFSv4 client recovery state. */
  recoveryDir: string;
  exports: GaneshaExport[];
  /**
   * NFS versions (default [4]). 3 needs rpcbind, which listens on every address: xenroot serves it
   * only inside a network namespace of its own (see nfs-server.ts).
   */
  versions?: (3 | 4)[];
  /**
   * Leave Bind_addr out (bind every address). Only for a server inside a network namespace that
   * xenroot made, where lo is the only interface.
   */
  bindAllInNetns?: boolean;
}

const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isLoopbackV4(addr: string): boolean {
  const m = LOOPBACK.exec(addr);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

/** A value that may appear in double quotes in ganesha's config: no quote, backslash or control char. */
function quoted(what: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/["\\\u0000-\u001f\u007f]/.test(value)) {
    throw new RenderError(`ganesha config: ${what} ${JSON.stringify(value)} holds a quote, backslash or control character`, {
      hint: 'use a path without " \\ or control characters',
    });
  }
  return `"${value}"`;
}

function absPath(what: string, value: string): string {
  if (!isAbsolute(value) || posix.normalize(value) !== value.replace(/(.)\/+$/, '$1')) {
    throw new RenderError(`ganesha config: ${what} ${JSON.stringify(value)} is not a normalized absolute path`, {
      hint: 'give an absolute path such as /srv/images/terminal',
    });
  }
  return quoted(what, value);
}

export function renderGaneshaConfig(input: GaneshaConfigInput): string {
  if (!isLoopbackV4(input.bindAddr)) {
    throw new RenderError(`ganesha config: bind address ${input.bindAddr} is not a loopback address`, {
      hint: 'the private NFS server binds 127.0.0.0/8 only, e.g. 127.0.0.1',
    });
  }
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new RenderError(`ganesha config: port ${input.port} is not a TCP port`, { hint: 'give 1..65535' });
  }
  const versions = [...new Set(input.versions ?? [4])].sort();
  if (versions.length === 0 || versions.some((v) => v !== 3 && v !== 4)) {
    throw new RenderError(`ganesha config: NFS versions ${JSON.stringify(input.versions)} are not a subset of [3, 4]`);
  }
  const protocols = versions.join(',');
  if (input.exports.length === 0) throw new RenderError('ganesha config: no export given', { hint: 'give at least one directory to export' });
  const ids = new Set<number>();
  const pseudos = new Set<string>();
  const blocks = input.exports.map((e) => {
    if (!Number.isInteger(e.id) || e.id < 1 || e.id > 65535 || ids.has(e.id)) {
      throw new RenderError(`ganesha config: export id ${e.id} is not unique in 1..65535`);
    }
    ids.add(e.id);
    if (e.pseudo === '/' || pseudos.has(e.pseudo)) {
      throw new RenderError(`ganesha config: pseudo path ${e.pseudo} is the root or used twice`, { hint: 'give each export its own pseudo path such as /export' });
    }
    pseudos.add(e.pseudo);
    if (e.access !== 'RO' && e.access !== 'RW') throw new RenderError(`ganesha config: access ${String(e.access)} is not RO or RW`);
    return [
      'EXPORT {',
      `  Export_Id = ${e.id};`,
      `  Path = ${absPath('export path', e.path)};`,
      `  Pseudo = ${absPath('pseudo path', e.pseudo)};`,
      `  Access_Type = ${e.access};`,
      '  Squash = No_Root_Squash;',
      `  Protocols = ${protocols};`,
      '  Transports = TCP;',
      '  SecType = sys;',
      '  FSAL { Name = VFS; }',
      '}',
    ].join('\n');
  });
  return [
    '# Written by xenroot: a private NFSv4-only server on loopback. Regenerated at every start.',
    'NFS_CORE_PARAM {',
    ...(input.bindAllInNetns ? ['  # inside a private network namespace (lo only): every address'] : [`  Bind_addr = ${input.bindAddr};`]),
    `  NFS_Port = ${input.port};`,
    `  Protocols = ${protocols};`,
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '  Enable_UDP = false;',
    '}',
    'NFSV4 {',
    '  Graceless = true;',
    `  RecoveryRoot = ${absPath('recovery directory', input.recoveryDir)};`,
    '  Only_Numeric_Owners = true;',
    '}',
    'NFS_KRB5 { Active_krb5 = false; }',
    ...blocks,
    '',
  ].join('\n');
}
