// When minid's own stdout or stderr is a pipe whose reader has gone (`minid logs -f c1 | head`,
// `minid run busybox yes | head`). Node reports it as an 'error' event (EPIPE), which unhandled
// would print a stack trace. By default minid then stops quietly, as `yes | head` does (exit
// 141: 128 + SIGPIPE, what a shell shows for it); a command that must end something first (a
// foreground run: the container) takes over with onOutputGone.

export type OutputGone = (stream: 'stdout' | 'stderr') => void;

let handler: OutputGone | null = null;

/** Called once, when the CLI starts. */
export function watchOutput(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', () => (handler ? handler(name) : process.exit(141)));
  }
}

/** Handle it here until the returned function is called (then: the default again). */
export function onOutputGone(h: OutputGone): () => void {
  handler = h;
  return () => {
    if (handler === h) handler = null;
  };
}
