// Records on disk, kept the one way minid keeps them: read whole, written whole. A writer
// writes a temp file beside the record and renames it over the record (rename is atomic), so
// a reader sees the old record or the new one, never part of one; a reader takes a record it
// cannot read or parse as no record at all.
import fs from 'node:fs';

/** The JSON record in `file`, or null when there is none to read: missing, unreadable or not JSON. */
export function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/**
 * Replace `file` with `text` by rename, through a temp file of this process's own beside it.
 * `mode`: the new file's permissions (default 0666 less the umask). A crashed writer's leftover
 * temp file is removed first: written over, it would keep its own mode.
 */
export function writeAtomic(file: string, text: string, mode?: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
  fs.renameSync(tmp, file);
}

/** A JSON record, indented by two spaces and ending in a newline, written by rename (writeAtomic). */
export function writeJsonAtomic(file: string, value: unknown, mode?: number): void {
  writeAtomic(file, JSON.stringify(value, null, 2) + '\n', mode);
}
