// Work done a few at a time (layers unpacked, loaded, pushed): one small runner for all of it.

/**
 * Run `fn` over `items`, at most `limit` at a time. At the first failure no new job starts;
 * the running ones are waited for (nothing may still write where a caller is about to clean
 * up), then the first error is rethrown.
 */
export async function runJobs<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: { e: unknown } | null = null;
  const worker = async () => {
    while (next < items.length && firstError === null) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        firstError ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== null) throw (firstError as { e: unknown }).e;
}
