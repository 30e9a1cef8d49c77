import { describe, expect, it } from 'vitest';
import { cleanConsoleText, lastLines } from '../../src/hypervisor/console.js';

describe('console text', () => {
  it('drops colour, cursor and charset sequences and keeps the text around them', () => {
    expect(cleanConsoleText('[  \x1b[0;32mOK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.')).toBe('[  OK  ] Reached target Multi-User System.');
    expect(cleanConsoleText('a\x1b(Bb\x1b=c\x1b>d\x1b7e\x1b8f\x1b[?25hg\x1b]0;title\x07h')).toBe('abcdefgh');
  });

  it('turns carriage returns into line ends and keeps the last non-empty lines', () => {
    expect(cleanConsoleText('one\r\ntwo\r\r\nthree\rfour')).toBe('one\ntwo\nthree\nfour');
    expect(lastLines('a\n\n b  \nc\n', 2)).toEqual([' b', 'c']);
  });
});
