/** Whether this process can serve: the database answers within a deadline. */
import type { Db } from '../db/knex';
import { pingDatabase } from '../repositories/health.repository';

export class HealthService {
  constructor(private readonly db: Db) {}

  async databaseAnswers(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        pingDatabase(this.db).then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
