// Where --explain goes, and in which form. The steps arrive as lines (network/step.ts formats
// them: `# [i/n] name: why`, `#   course: ...`, `#   check: ...`, then the commands); this
// module only routes and reshapes them:
//
//   --explain              text on stdout (pipe it to a file: it is a script already)
//   --explain=script       a bash script: shebang, `set -e`, then the same lines
//   --explain=md           a markdown handout: one section per step, commands in code blocks
//   --explain=FILE         to FILE, the form from its name (.sh script, .md markdown, else text)
//
// `--explain=HOW` reaches the commands as the hidden option --explain-to (main.ts rewrites it),
// so that `--explain` stays a flag and `run --explain IMAGE` keeps its image.
import fs from 'node:fs';
import { MinidError } from '../errors.js';

export type ExplainForm = 'text' | 'script' | 'md';

export interface Explainer {
  /** One line of explanation. */
  say: (line: string) => void;
  /** A line of the command's own output (`run -d`'s id), as a comment: for when it shares stdout with the script. */
  comment(text: string): string;
  /** Flush and close (a file; the markdown's last code block). */
  end(): void;
  /** The explanation goes to stdout. */
  onStdout: boolean;
}

export function explainForm(how: string): { form: ExplainForm; file: string | null } {
  if (how === 'text' || how === 'script' || how === 'md') return { form: how, file: null };
  const form: ExplainForm = /\.(sh|bash)$/.test(how) ? 'script' : /\.(md|markdown)$/.test(how) ? 'md' : 'text';
  return { form, file: how };
}

/** The explainer for a command's options (`explain`: the flag; `explainTo`: --explain=HOW), or undefined. */
export function explainer(o: { explain?: boolean; explainTo?: string }, title?: string): Explainer | undefined {
  if (!o.explain && !o.explainTo) return undefined;
  const { form, file } = explainForm(o.explainTo ?? 'text');
  let fd: number | null = null;
  if (file) {
    try {
      fd = fs.openSync(file, 'w', 0o644);
    } catch (e) {
      throw new MinidError(`cannot write --explain=${file} (${(e as NodeJS.ErrnoException).code}): give a writable file, or --explain alone for stdout`);
    }
  }
  const write = (s: string) => (fd !== null ? fs.writeSync(fd, s) : process.stdout.write(s));
  const shape = form === 'md' ? markdown(title) : form === 'script' ? script(title) : plain();
  let started = false;
  const out: Explainer = {
    onStdout: fd === null,
    say(line) {
      if (!started) {
        started = true;
        write(shape.head());
      }
      write(shape.line(line));
    },
    comment(text) {
      return form === 'md' ? `\n*${text}*` : `# ${text}`;
    },
    end() {
      if (started) write(shape.tail());
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
  return out;
}

interface Shape {
  head(): string;
  line(l: string): string;
  tail(): string;
}

function plain(): Shape {
  return { head: () => '', line: (l) => l + '\n', tail: () => '' };
}

function script(title?: string): Shape {
  return {
    head: () =>
      '#!/usr/bin/env bash\n' +
      `# ${title ?? 'minid --explain'}: replay as root with \`bash FILE\`. Steps marked "skipped" were already done.\n` +
      'set -e\n',
    line: (l) => l + '\n',
    tail: () => '',
  };
}

/** A handout: `# [i/n] name: why` opens a section, `#   key: value` lines become a list, commands a code block. */
function markdown(title?: string): Shape {
  let inCode = false;
  const close = () => {
    const s = inCode ? '```\n' : '';
    inCode = false;
    return s;
  };
  const open = () => {
    const s = inCode ? '' : '\n```bash\n';
    inCode = true;
    return s;
  };
  const FIELDS: Record<string, string> = { course: 'Course', check: 'Check it yourself', 'course caveat': 'Where the course is wrong or incomplete', undo: 'Undo' };
  return {
    head: () => `# ${title ?? 'What minid did, step by step'}\n`,
    line(l) {
      let m = /^# \[(\d+)\/(\d+)\] (.+?): (.*)$/.exec(l); // the name ends at the first ': ' (127.0.0.1:80 has none)
      if (m) return `${close()}\n## ${m[1]}/${m[2]}. ${m[3]}\n\n${m[4]}\n\n`;
      m = /^#   ([a-z ]+): (.*)$/.exec(l);
      if (m && FIELDS[m[1]]) {
        const v = m[1] === 'check' ? `\`${m[2]}\`` : m[2];
        return `${close()}- **${FIELDS[m[1]]}:** ${v}\n`;
      }
      m = /^#   \((skipped|ignored): (.*)\)$/.exec(l);
      if (m) return `${close()}- *${m[1]}:* ${m[2]}\n`;
      if (/^#   /.test(l)) return `${open()}${l}\n`; // a skipped step's command, commented out
      if (/^# /.test(l)) return `${close()}\n${l.slice(2)}\n`;
      return `${open()}${l}\n`;
    },
    tail: () => close(),
  };
}
