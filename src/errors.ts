// The tiny error vocabulary of minid.
// A MinidError is a user-facing failure: the CLI prints its message on one line and exits
// with its code (125 like docker for minid's own failures, 126/127 for the command).
// Anything else that escapes is a bug: the CLI says so and prints the stack only with MINID_DEBUG=1.

export class MinidError extends Error {
  constructor(
    message: string,
    public readonly exitCode: number = 125,
  ) {
    super(message);
    this.name = 'MinidError';
  }
}

/** Throw a user-facing error (exit 125 unless told otherwise). */
export function fail(message: string, exitCode = 125): never {
  throw new MinidError(message, exitCode);
}

export function isMinidError(e: unknown): e is MinidError {
  return e instanceof MinidError;
}
