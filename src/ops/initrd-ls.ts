/** `xenroot initrd ls FILE`: what an initrd holds, and whether xennet and NFS root support are in it. */
export { listInitrd } from '../initrd/ls.js';
export type { InitrdListing, Presence } from '../initrd/ls.js';
