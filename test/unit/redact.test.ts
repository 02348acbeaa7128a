import { describe, expect, it } from 'vitest';

import { redactSecrets } from '../../src/util/redact.js';

describe('redactSecrets (what goes where others read it: STATUS=)', () => {
  it('masks URL passwords and password fields in free text, keeps the rest', () => {
    const text = `Invalid config: - Expected a URL for cameras[0].urll but received 'rtsp://viewer:s3cr3t@10.0.0.5/stream'; line 4: "  admin_password: hunter2", mqtt password: 'p w' and {password: abc}`;
    const out = redactSecrets(text);
    expect(out).not.toMatch(/s3cr3t|hunter2|'p w'|abc\}/);
    expect(out).toContain('rtsp://viewer:***@10.0.0.5/stream');
    expect(out).toContain('admin_password: ***');
    expect(out).toContain('cameras[0].urll');
    expect(redactSecrets('rtsp://10.0.0.5/stream and rtsp://user@host/x')).toBe('rtsp://10.0.0.5/stream and rtsp://user@host/x');
  });
});
