/**
 * The inventory's schema: one YAML file holding site settings, images, guests and clients.
 * Every error names the path inside the file (`guests.Terminal.memory`) and what is accepted.
 */
import { z } from 'zod';
import { InventoryError } from '../sys/errors.js';
import { macClaims } from './mac.js';
import { CRASH_ACTIONS, INITRD_BUILDERS, OFF_ACTIONS } from './constants.js';
import { exportIssues, exportOptionsProblem } from './exports.js';
import { STATE_SUBDIRS, stateDir } from './state-path.js';
import { identityIssues } from './identity.js';

export type { BootTarget, DomainTarget, InitrdBuilder } from './constants.js';
import {
  BRIDGE_RE,
  BRIDGE_RULE,
  KVER_RE,
  KVER_RULE,
  NAME_RULE,
  addressProblem,
  checkAbsPath,
  normalPath,
  checkCidr,
  hostnameProblem,
  ipv4AddressProblem,
  nodeFilePathProblem,
  checkHost,
  checkKernelArgs,
  checkName,
  checkNetwork,
  macProblem,
  parseMac,
  rootSpecProblem,
} from './validate.js';
import { namePatternProblem } from './names.js';
import { uriProblem } from './uri.js';

/** A string checked by one of the validate.ts functions (which return a problem or undefined). */
function checked(check: (v: string) => string | undefined) {
  return z.string({ error: 'must be a string' }).superRefine((v, ctx) => {
    const problem = check(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

const Name = checked(checkName);
/** An absolute path, judged and kept in its normal form (validate.ts normalPath). */
const AbsPath = checked(checkAbsPath).transform(normalPath);
const Host = checked(checkHost);
const KernelArgs = checked(checkKernelArgs);
const Network = checked(checkNetwork);
const Mac = checked(macProblem).transform((v) => parseMac(v) as string);
const Bridge = z.string().regex(BRIDGE_RE, { error: `must be ${BRIDGE_RULE}` });
const Kver = z.string().regex(KVER_RE, { error: `must be ${KVER_RULE}` });
const NfsVersion = z.union([z.literal(3), z.literal(4)], { error: 'must be 3 or 4' });
const NfsOptions = z.string().regex(/^[A-Za-z0-9_=.,-]*$/, {
  error: 'must be comma-separated NFS mount options such as "vers=4.2,proto=tcp"',
});
const Uri = z
  .string()
  .regex(/^[a-z][a-z0-9+.-]*:\/\/[^\s'"\\]*$/, {
    error: 'must be a libvirt URI such as xen:///system, qemu:///system or xen+ssh://host/system',
  })
  .superRefine((v, ctx) => {
    const problem = uriProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: `must be a libvirt URI whose parts are sound: ${problem}` });
  });
const MacPrefix = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){1,4}$/, { error: 'must be 2 to 5 hex byte pairs such as 00:16:3e or 02:00' })
  .refine((v) => (parseInt(v.slice(0, 2), 16) & 1) === 0, { error: 'must be a unicast prefix (first byte even)' })
  .transform((v) => v.toLowerCase());
/** A published revision number of an image: 1, 2, ... */
const Revision = z.number({ error: 'must be a revision number (1, 2, ...)' }).int({ error: 'must be a revision number (1, 2, ...)' }).min(1, { error: 'must be a revision number (1, 2, ...)' });
/**
 * One per-node file: the file's text inline, or `{ content }` / `{ source }` (a file
 * on this host, relative to the inventory's directory) with an optional quoted octal `mode`.
 */
const NodeFile = z.union(
  [
    z.string(),
    z
      .object({
        content: z.string().optional(),
        source: z.string().min(1, { error: 'must be a path' }).optional(),
        mode: z.string({ error: 'must be a quoted octal mode such as "0600"' }).regex(/^0?[0-7]{3}$/, { error: 'must be a quoted octal mode such as "0600"' }).optional(),
      })
      .strict()
      .refine((f) => (f.content === undefined) !== (f.source === undefined), { error: 'takes content (the text) or source (a file), one of them' }),
  ],
  { error: 'must be the file\'s text, or { content: TEXT } or { source: PATH }, with an optional mode: "0600"' },
);
/** Per-node files keyed by their destination in its normal form; two spellings of one destination are refused. */
const NodeFiles = z
  .record(z.string(), NodeFile)
  .superRefine((files, ctx) => {
    const seen = new Map<string, string>();
    for (const path of Object.keys(files)) {
      const problem = nodeFilePathProblem(path);
      if (problem) ctx.addIssue({ code: 'custom', path: [path], message: problem });
      const normal = normalPath(path);
      const other = seen.get(normal);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: `is ${normal}, as "${other}" is: give each file once` });
      else seen.set(normal, path);
    }
  })
  .transform((files) => Object.fromEntries(Object.entries(files).map(([path, f]) => [normalPath(path), f])));

/** The identity fields of guests and clients, added at the end of both objects. */
const IDENTITY_FIELDS = {
  /** Host name (default: the node's name, made a host name). */
  hostname: checked(hostnameProblem).optional(),
  /** Static IPv4 address, with /PREFIX unless site.dhcp.subnet gives it. */
  address: checked(addressProblem).optional(),
  gateway: checked(ipv4AddressProblem).optional(),
  /** Per-node files: destination path -> text or { content | source, mode }. */
  files: NodeFiles.optional(),
};

/** A guest's action on power-off and reboot, and on a crash (constants.ts: what libvirt's schema takes for each). */
const OffAction = z.enum(OFF_ACTIONS, { error: `must be one of ${OFF_ACTIONS.join(', ')} (the coredump actions are for onCrash only)` });
const CrashAction = z.enum(CRASH_ACTIONS, { error: `must be one of ${CRASH_ACTIONS.join(', ')}` });

export const SiteSchema = z
  .object({
    nfsServer: Host,
    exportRoot: AbsPath.default('/srv/xenroot'),
    tftpRoot: AbsPath.default('/tftpboot/linux-install'),
    bootDir: AbsPath.default('/var/lib/xenroot/boot'),
    guestDir: z.string().optional(),
    /** xenroot's state of this inventory (relative to the inventory's directory); see stateDir(). */
    stateDir: z.string().min(1).optional(),
    allow: z.array(Network).default([]),
    bridge: Bridge.default('xenbr0'),
    macPrefix: MacPrefix.default('00:16:3e'),
    connect: Uri.default('xen:///system'),
    nfsVersion: NfsVersion.default(4),
    nfsOptions: NfsOptions.default(''),
    selinux: z.boolean().default(false),
    dhcp: z
      .object({
        server: z.enum(['dnsmasq', 'isc', 'kea', 'none'], { error: 'must be dnsmasq, isc, kea or none' }).default('dnsmasq'),
        file: AbsPath.optional(),
        proxy: z.boolean().default(false),
        subnet: checked(checkCidr).optional(),
      })
      .strict()
      // Kea has no proxy-DHCP mode (a renderer refusal would come too late: at sync).
      .refine((d) => !(d.server === 'kea' && d.proxy), { path: ['proxy'], error: 'is a dnsmasq mode: Kea has no proxy-DHCP (set it to false, or server to dnsmasq)' })
      .prefault({}),
    exports: z
      .object({
        file: AbsPath.default('/etc/exports'),
        dir: AbsPath.default('/etc/exports.d'),
        options: checked((v) => exportOptionsProblem(v, 'site')).default('ro,no_root_squash,no_subtree_check'),
        insecure: z.boolean().default(false),
        /** The NFSv4 pseudo-root (exported with fsid=0); NFSv4 command lines name paths relative to it. */
        pseudoRoot: AbsPath.optional(),
      })
      .strict()
      .prefault({}),
    pxe: z
      .object({
        httpBase: z
          .string()
          .regex(/^https?:\/\/[^\s'"\\]+$/, { error: 'must be an http:// or https:// URL' })
          .optional(),
        nicDrivers: z.array(z.string().regex(/^[a-z0-9_-]+$/, { error: 'must be a kernel module name' })).optional(),
        timeout: z.number().int().min(0).max(600).default(0),
        /** The loader of x86-64 UEFI clients (client-arch 7 and 9): docs/netboot.md says why syslinux by default. */
        efiLoader: z.enum(['syslinux', 'ipxe', 'grub', 'none'], { error: 'must be syslinux, ipxe, grub or none' }).default('syslinux'),
        /** The user the TFTP server reads files as: per-node identity files (mode 0600) are given to it. */
        tftpUser: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: 'must be a user name such as tftp or dnsmasq' }).optional(),
      })
      .strict()
      .prefault({}),
    /** Per-node identity: which SSH host keys each node gets, generated once and kept in xenroot's state. */
    identity: z
      .object({
        hostKeys: z
          .array(z.enum(['ed25519', 'ecdsa', 'rsa'], { error: 'must be ed25519, ecdsa or rsa' }))
          .refine((l) => new Set(l).size === l.length, { error: 'lists a key type twice' })
          .default(['ed25519']),
      })
      .strict()
      .prefault({}),
    /**
     * The boot service (`xenroot serve`): present = enabled. `listen` is ADDR:PORT, default the
     * NFS server's address on port 8080 (never every interface unless the admin writes 0.0.0.0).
     * With the service on, iPXE scripts fetch kernel and initrds from it over HTTP.
     */
    serve: z
      .object({
        listen: z
          .string()
          .regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { error: 'must be ADDR:PORT such as 192.168.1.1:8080' })
          .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) > 0 && Number(v.slice(v.lastIndexOf(':') + 1)) < 65536, { error: 'must have a port from 1 to 65535' })
          .optional(),
      })
      .strict()
      .optional(),
    /**
     * Published revisions of images: each at DIR/IMAGE/REV (default
     * EXPORTROOT/revisions/IMAGE/REV), mounted by the nodes at EXPORT/IMAGE/REV (default: the same
     * path; set it when the NFS server shows DIR under another path, e.g. an NFSv4 pseudo path).
     */
    revisions: z
      .object({
        dir: AbsPath.optional(),
        export: AbsPath.optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const ImageSchema = z
  .object({
    root: AbsPath.optional(),
    file: AbsPath.optional(),
    export: AbsPath.optional(),
    kver: Kver.optional(),
    nfsVersion: NfsVersion.optional(),
    nfsOptions: NfsOptions.optional(),
    initrdBuilder: z.enum(INITRD_BUILDERS, { error: `must be ${INITRD_BUILDERS.join(', ')}` }).optional(),
    readyPattern: z.string().optional(),
    append: KernelArgs.optional(),
    /** exports(5) options of this image's export, over site.exports.options (e.g. fsid=7, rw). */
    exportOptions: checked((v) => exportOptionsProblem(v, 'image')).optional(),
  })
  .strict()
  .superRefine((img, ctx) => {
    if (!img.root && !img.file) ctx.addIssue({ code: 'custom', message: 'needs root (a directory) or file (a loop image)' });
    if (img.root && img.file) ctx.addIssue({ code: 'custom', message: 'takes root or file, not both' });
    if (img.readyPattern !== undefined) {
      try {
        new RegExp(img.readyPattern);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['readyPattern'], message: 'must be a valid regular expression' });
      }
    }
  });

export const GuestSchema = z
  .object({
    /** Optional when the guest's group names one (see effective.ts). */
    image: Name.optional(),
    memory: z.number({ error: 'must be a whole number of MiB (32-1048576)' }).int().min(32).max(1048576).default(512),
    maxmem: z.number({ error: 'must be a whole number of MiB' }).int().min(32).max(1048576).optional(),
    vcpus: z.number({ error: 'must be a whole number of vCPUs (1-128)' }).int().min(1).max(128).default(1),
    bridge: Bridge.optional(),
    mac: Mac.optional(),
    macSource: z.enum(['first-boot', 'given', 'allocated']).optional(),
    connect: Uri.optional(),
    append: KernelArgs.optional(),
    /** Directory of NAME.cfg and NAME.xml (`create --out`); default: the site's guest directory. */
    configDir: AbsPath.optional(),
    onPoweroff: OffAction.default('destroy'),
    onReboot: OffAction.default('restart'),
    onCrash: CrashAction.default('destroy'),
    /** The published revision of its image it boots (set by `xenroot rollout`); none: the image's working directory. */
    revision: Revision.optional(),
    /** The revision it booted before its last rollout: what `xenroot rollback` returns it to. */
    previousRevision: Revision.optional(),
    /** The inventory host the guest runs on (`create --host`, or placed by xenroot at its first start). */
    host: Name.optional(),
    /** The group whose defaults this guest takes (groups.NAME). */
    group: Name.optional(),
    ...IDENTITY_FIELDS,
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.host !== undefined && g.connect !== undefined) ctx.addIssue({ code: 'custom', path: ['host'], message: 'takes host or connect, not both (a host carries its own connect URI)' });
    if (g.maxmem !== undefined && g.maxmem < g.memory)
      ctx.addIssue({ code: 'custom', path: ['maxmem'], message: `must be at least memory (${g.memory})` });
    if (g.macSource && !g.mac) ctx.addIssue({ code: 'custom', path: ['macSource'], message: 'is only valid with mac' });
  });

const RootOverride = checked(rootSpecProblem);

/**
 * A hypervisor host: its libvirt URI (or xl:// for the local xl toolstack), the
 * directory of the storage pool xenroot keeps kernels and initrds in on that host, and how many
 * guests xenroot may place there.
 */
export const HostSchema = z
  .object({
    connect: Uri,
    bootDir: AbsPath.default('/var/lib/xenroot/boot'),
    maxGuests: z.number({ error: 'must be a whole number of guests (1-4096)' }).int().min(1).max(4096).optional(),
  })
  .strict();

export const ClientSchema = z
  .object({
    mac: Mac,
    /** Optional when the client's group names one (see effective.ts). */
    image: Name.optional(),
    append: KernelArgs.optional(),
    root: RootOverride.optional(),
    /** The published revision of its image it boots (set by `xenroot rollout`); none: the image's working directory. */
    revision: Revision.optional(),
    /** The revision it booted before its last rollout: what `xenroot rollback` returns it to. */
    previousRevision: Revision.optional(),
    /** The group whose defaults this client takes (groups.NAME). */
    group: Name.optional(),
    ...IDENTITY_FIELDS,
  })
  .strict();

/**
 * A group (profile) of clients and guests: defaults its members take where they have no value of
 * their own (one level deep; src/inventory/effective.ts resolves them). `names` is the pattern of
 * its members' names (`lab-{nn}`: lab-01, lab-02, ...) that `client discover --assign` and
 * `client import` use for machines without a name.
 */
export const GroupSchema = z
  .object({
    image: Name.optional(),
    append: KernelArgs.optional(),
    root: RootOverride.optional(),
    connect: Uri.optional(),
    bridge: Bridge.optional(),
    names: checked(namePatternProblem).optional(),
    description: z.string().regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must be one line of text' }).optional(),
    /** Files every member gets in its identity piece; a member's own file of the same path wins. */
    files: NodeFiles.optional(),
  })
  .strict();

/** A section left empty in YAML (`guests:`) is null: read it as an empty map. */
function emptyIsNone<T extends z.ZodType<Record<string, unknown>>>(schema: T) {
  return z.preprocess((v, ctx) => {
    if (v === null || v === undefined) return {};
    // Every own key is checked here: zod's record skips "__proto__" without a word, and that
    // entry would vanish instead of being refused.
    if (typeof v === 'object')
      for (const k of Object.keys(v))
        if (checkName(k) !== undefined) ctx.issues.push({ code: 'invalid_key', origin: 'record', issues: [{ code: 'custom', path: [], message: `name must be ${NAME_RULE}`, input: k }], path: [k], input: v, message: 'Invalid key in record' });
    return v;
  }, schema);
}

const NameKey = z.string().refine((k) => checkName(k) === undefined, { error: `name must be ${NAME_RULE}` });

export const InventorySchema = z
  .object({
    site: SiteSchema,
    images: emptyIsNone(z.record(NameKey, ImageSchema)),
    guests: emptyIsNone(z.record(NameKey, GuestSchema)),
    clients: emptyIsNone(z.record(NameKey, ClientSchema)),
    groups: emptyIsNone(z.record(NameKey, GroupSchema)),
    hosts: emptyIsNone(z.record(NameKey, HostSchema)),
  })
  .strict()
  .superRefine((inv, ctx) => {
    for (const issue of crossIssues(inv)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

export interface CrossIssue {
  path: (string | number)[];
  message: string;
}

/**
 * The rules between entries: every guest and client names an existing group and, through its own
 * value or its group's, an existing image; no MAC is used twice across guests and clients. Part
 * of the schema; also run on its own when only a few entries changed (store.ts validates just
 * those, then these rules over the whole).
 */
export function crossIssues(inv: {
  images: Record<string, unknown>;
  guests: Record<string, { image?: string | undefined; mac?: string | undefined; group?: string | undefined; host?: string | undefined }>;
  clients: Record<string, { image?: string | undefined; mac: string; group?: string | undefined }>;
  groups?: Record<string, { image?: string | undefined }>;
  hosts?: Record<string, unknown>;
}): CrossIssue[] {
  const issues: CrossIssue[] = [];
  for (const [name, g] of Object.entries(inv.guests))
    if (g.host !== undefined && !Object.hasOwn(inv.hosts ?? {}, g.host)) issues.push({ path: ['guests', name, 'host'], message: `names host "${g.host}", which is not in hosts` });
  const groups = inv.groups ?? {};
  for (const [name, g] of Object.entries(groups))
    if (g.image !== undefined && !Object.hasOwn(inv.images, g.image)) issues.push({ path: ['groups', name, 'image'], message: `names image "${g.image}", which is not in images` });
  const check = (section: 'guests' | 'clients', name: string, node: { image?: string | undefined; group?: string | undefined }) => {
    if (node.group !== undefined && !Object.hasOwn(groups, node.group)) {
      issues.push({ path: [section, name, 'group'], message: `names group "${node.group}", which is not in groups` });
      return;
    }
    const image = node.image ?? (node.group !== undefined ? groups[node.group]?.image : undefined);
    if (image === undefined)
      issues.push({ path: [section, name, 'image'], message: node.group !== undefined ? `is not set, and group "${node.group}" has no image either` : 'is required (or a group with an image)' });
    else if (node.image !== undefined && !Object.hasOwn(inv.images, image)) issues.push({ path: [section, name, 'image'], message: `names image "${image}", which is not in images` });
  };
  for (const [name, g] of Object.entries(inv.guests)) check('guests', name, g);
  for (const [name, c] of Object.entries(inv.clients)) check('clients', name, c);
  const owners = new Map<string, string>();
  for (const c of macClaims(inv)) {
    const prev = owners.get(c.mac);
    if (prev) issues.push({ path: c.path, message: `${c.mac} is already used by ${prev}` });
    else owners.set(c.mac, c.owner);
  }
  // Exports against what mounts them (inventory/exports.ts); only where the whole model is given.
  if ('site' in inv) issues.push(...exportIssues(inv as unknown as Parameters<typeof exportIssues>[0], { state: stateDir(undefined), stateSubdirs: STATE_SUBDIRS }), ...identityIssues(inv as unknown as Parameters<typeof identityIssues>[0]));
  return issues;
}

/** The schema of one entry of a section. */
export const ENTRY_SCHEMAS = { images: ImageSchema, guests: GuestSchema, clients: ClientSchema, groups: GroupSchema, hosts: HostSchema } as const;
export const ENTRY_NAME_CHECK = (name: string): string | undefined => (checkName(name) ? `name must be ${NAME_RULE}` : undefined);

export type InventoryData = z.output<typeof InventorySchema>;
export type Site = InventoryData['site'];
export type Image = z.output<typeof ImageSchema>;
export type Guest = z.output<typeof GuestSchema>;
export type Client = z.output<typeof ClientSchema>;
export type Group = z.output<typeof GroupSchema>;
export type Host = z.output<typeof HostSchema>;

/** The schema of each field a command-line flag sets, by section (the same object the file is checked with). */
export const FIELDS = { site: SiteSchema.shape, images: ImageSchema.shape, guests: GuestSchema.shape, clients: ClientSchema.shape, groups: GroupSchema.shape, hosts: HostSchema.shape };

/**
 * Checks a value given on the command line with the inventory's own rule for the field it is
 * stored in, so the same bad value gets the same message and exit code (3, InventoryError)
 * whether it comes from a flag or from the file. Digits are read as a number where the field
 * holds one. Throws `--memory "lots" is not valid: must be a whole number of MiB (32-1048576)`.
 */
export function flagValue<T>(schema: z.ZodType<T>, flag: string, raw: unknown): T {
  if (typeof raw === 'string' && /^-?\d+$/.test(raw)) {
    const asNumber = schema.safeParse(Number(raw));
    if (asNumber.success) return asNumber.data;
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  throw new InventoryError(`${flag} ${JSON.stringify(raw)} is not valid: ${r.error.issues[0]?.message ?? 'refused'}`);
}

/** Refuses an entry name that the file would refuse, with the file's rule: `guest name "../x" is not valid: ...`. */
export function checkEntryName(kind: 'guest' | 'client' | 'image' | 'group' | 'host', name: string): string {
  const problem = checkName(name);
  if (problem) throw new InventoryError(`${kind} name ${JSON.stringify(name)} is not valid: ${problem}`);
  return name;
}

/** The keys the object at `path` of the inventory accepts (for "unknown key" messages), or undefined. */
export function knownKeysAt(path: PropertyKey[]): string[] | undefined {
  let s: unknown = InventorySchema;
  const unwrap = (x: unknown): unknown => {
    for (let i = 0; i < 10; i++) {
      const def = (x as { _zod?: { def?: { innerType?: unknown; in?: unknown; out?: unknown; type?: string } } })._zod?.def;
      if (!def) return x;
      if (def.innerType) x = def.innerType;
      else if (def.type === 'pipe') {
        // z.preprocess is a pipe from a transform into the schema; x.transform() a pipe from the schema.
        const inType = (def.in as { _zod?: { def?: { type?: string } } } | undefined)?._zod?.def?.type;
        x = inType === 'transform' ? def.out : def.in;
      } else return x;
    }
    return x;
  };
  for (const k of path) {
    s = unwrap(s);
    const def = (s as { _zod?: { def?: { type?: string; shape?: Record<string, unknown>; valueType?: unknown } } })._zod?.def;
    if (def?.type === 'object' && def.shape) s = def.shape[String(k)];
    else if (def?.type === 'record') s = def.valueType;
    else return undefined;
    if (s === undefined) return undefined;
  }
  s = unwrap(s);
  const def = (s as { _zod?: { def?: { type?: string; shape?: Record<string, unknown> } } })._zod?.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}
