import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/test-node.ts';
import { openDatabase } from './connect.ts';
import { listMigrations, migrate } from './migrate.ts';

describe('database', () => {
  it('refuses a malformed DATABASE_URL and says when the server is down', async () => {
    await expect(openDatabase({ databaseUrl: 'not a url' })).rejects.toMatchObject({ code: 'config-invalid' });
    await expect(openDatabase({ databaseUrl: 'mysql://localhost/x' })).rejects.toMatchObject({ code: 'config-invalid', message: expect.stringMatching(/postgres:\/\//) });
    await expect(openDatabase({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none' })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/Cannot connect to PostgreSQL/) });
  });

  it('numbers migrations and applies each once', async () => {
    const list = listMigrations();
    expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1));
    const t = await createTestDatabase();
    try {
      expect(await migrate(t.database.db)).toEqual(list.map((m) => m.version));
      expect(await migrate(t.database.db)).toEqual([]);
    } finally {
      await t.drop();
    }
  });
});
