import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, loadCommonPasswords } from './password.js';

describe('checkPasswordPolicy length (NIST SP 800-63B §5.1.1.2)', () => {
  it('accepts an ordinary 12+ character passphrase', () => {
    expect(checkPasswordPolicy('tangerine orbit ladder')).toEqual([]);
    expect(checkPasswordPolicy('Vx9!kq2#Lm4z')).toEqual([]);
  });

  it('requires 12 code points after NFKC, counting astral characters once', () => {
    expect(checkPasswordPolicy('Vx9!kq2#Lm4')).toEqual(['too_short']);
    // 11 emoji = 22 UTF-16 units but 11 code points.
    expect(checkPasswordPolicy('🦊🐙🦉🐝🦋🐢🦄🐳🦀🐌🦒')).toEqual(['too_short']);
    expect(checkPasswordPolicy('🦊🐙🦉🐝🦋🐢🦄🐳🦀🐌🦒🦓')).toEqual([]);
    // Decomposed é (2 code points) composes to 1 under NFKC.
    expect(checkPasswordPolicy('zqxwe\u0301vbnrtp')).toEqual(['too_short']);
    // The ligature U+FB03 "ﬃ" expands to "ffi" under NFKC.
    expect(checkPasswordPolicy('zq\ufb03wvbnrtp')).toEqual([]);
  });

  it('allows up to 256 and refuses more', () => {
    const words = 'plum vivid anchor cello '.repeat(11);
    expect(checkPasswordPolicy(words.slice(0, 256))).toEqual([]);
    expect(checkPasswordPolicy(words.slice(0, 257))).toEqual(['too_long']);
  });

  it('imposes no composition rules', () => {
    expect(checkPasswordPolicy('all lower case words here')).toEqual([]);
    expect(checkPasswordPolicy('ключ-от-старой-двери')).toEqual([]);
  });

  it('refuses unpaired surrogates', () => {
    expect(checkPasswordPolicy('abcdefghijklm\ud800')).toEqual(['invalid_characters']);
  });
});

describe('checkPasswordPolicy common passwords', () => {
  it('ships a list of thousands of lower-case entries, loaded once', () => {
    const list = loadCommonPasswords();
    expect(list.size).toBeGreaterThan(1000);
    expect(loadCommonPasswords()).toBe(list);
    expect(list.has('password')).toBe(true);
    expect(list.has('qwertyuiopasdfghjkl')).toBe(true);
    expect([...list].filter((p) => p.length >= 12).length).toBeGreaterThan(1000);
  });

  it.each([
    'password1234',
    'Password1234!',
    'P@ssw0rd2024!',
    'passwordpassword',
    'qwertyuiopasdf',
    '1q2w3e4r5t6y',
    'iloveyou123456',
    'correct horse battery staple',
    'Jennifer1990!',
    'DRAGON-2023-!!',
    'welcome123456',
    'aaaaaaaaaaaa',
    'abcabcabcabc',
    '123456789012',
    '987654321098',
    'abcdefghijklmnop',
    'monkey!!!!!!!!',
    'xq7!xq7!xq7!xq7!',
    'zzzzzzzzzzzzzz',
  ])('refuses %j as common', (pw) => {
    expect(checkPasswordPolicy(pw)).toContain('common');
  });

  it.each(['tangerine orbit ladder', 'cello-plum-vivid-9', 'Vx9!kq2#Lm4z', '739182645273'])(
    'does not refuse %j',
    (pw) => {
      expect(checkPasswordPolicy(pw)).not.toContain('common');
    },
  );
});

describe('checkPasswordPolicy context-specific words', () => {
  const context = { email: 'Jane.Doe@clinic.example', username: 'jdoe_md' };

  it('refuses passwords containing the email, its local part or the username', () => {
    expect(checkPasswordPolicy('jane.doe@clinic.example!', context)).toEqual([
      'contains_identifier',
    ]);
    expect(checkPasswordPolicy('my-JaneDoe-secret-xy', context)).toEqual(['contains_identifier']);
    expect(checkPasswordPolicy('walnut jane river 88', context)).toEqual(['contains_identifier']);
    expect(checkPasswordPolicy('zzz-jdoe_md-yyy-www', context)).toEqual(['contains_identifier']);
    expect(checkPasswordPolicy('zzz-JDOEMD-yyy-www', context)).toEqual(['contains_identifier']);
  });

  it('checks extra words and ignores fragments too short to mean anything', () => {
    expect(checkPasswordPolicy('scrip rocks every day', { words: ['Scrip'] })).toEqual([
      'contains_identifier',
    ]);
    // "doe" is a 3-letter segment of the local part: not checked on its own.
    expect(checkPasswordPolicy('does it matter today', context)).toEqual([]);
    expect(checkPasswordPolicy('tangerine orbit ladder', context)).toEqual([]);
  });

  it('reports every reason in a stable order', () => {
    expect(checkPasswordPolicy('janedoe', context)).toEqual(['too_short', 'contains_identifier']);
    expect(checkPasswordPolicy('password', { username: 'password' })).toEqual([
      'too_short',
      'common',
      'contains_identifier',
    ]);
  });
});
