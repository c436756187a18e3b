import { sql, type CompiledQuery } from "kysely";
import type { Db } from "~/db/db.server";

/**
 * A db over the same connections whose statements are handed to `seen` as they go to the
 * database (in order, before their answer): for tests that count or inspect what a read sends.
 */
export function recordingStatements(db: Db, seen: (query: CompiledQuery) => void): Db {
  const inner = db.getExecutor();
  const recording = inner.withConnectionProvider({
    provideConnection: (consumer) =>
      inner.provideConnection((connection) =>
        consumer({
          executeQuery: (query) => {
            seen(query);
            return connection.executeQuery(query);
          },
          streamQuery: (query, rows) => connection.streamQuery(query, rows),
        }),
      ),
  });
  return { getExecutor: () => recording } as unknown as Db;
}

/**
 * A contact with an email and a phone number of its own (`${prefix}${n}@example.com`,
 * +1415555 followed by `phoneFrom + n`), numbered per prefix across a test file.
 */
export function personMaker(prefix: string, phoneFrom: number, locale: string) {
  let n = 0;
  return async (db: Db) => {
    const i = ++n;
    const email = `${prefix}${i}@example.com`;
    const phone = `+1415555${String(phoneFrom + i).padStart(4, "0")}`;
    const { rows } = await sql<{ id: string }>`
      insert into contacts (email, phone, locale) values (${email}, ${phone}, ${locale})
      returning id`.execute(db);
    return { id: rows[0]!.id, email, phone };
  };
}

/**
 * Reads again (every 100 ms, at most 30 s) until `done` holds, and answers the last read. For
 * what waits on PostgreSQL's oldest running transaction (the events feed, checkpoints): its
 * horizon spans every database of the server, and other test files share the server, so an open
 * transaction of theirs holds back what this file just wrote. A reader of the feed polls too.
 */
export async function readUntil<T>(read: () => Promise<T>, done: (value: T) => boolean) {
  let value = await read();
  for (let i = 0; i < 300 && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}
