/**
 * Text from outside (a DHCP client's host name, console output, names in a hand-edited
 * inventory, error messages quoting them) made safe to print on the admin's terminal: every
 * control character but newline and tab (C0, DEL, C1: escape sequences that move the cursor,
 * retitle the window, or hide text) and the bidirectional overrides (which reorder what is shown)
 * are written as visible escapes (\x1b, \u202e). Printable text, including non-ASCII letters, is
 * left as it is.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with control characters and bidi overrides escaped as above. */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const c = ch.charCodeAt(0);
    return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
  });
}
