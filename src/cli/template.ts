// A small Go text/template for `--format`: what docker scripts write, evaluated with Go's rules.
// Lexer (actions between {{ }}, with {{- -}} trimming) -> parser (a tree of text, actions,
// if/range/with) -> evaluator (field paths, pipelines, docker's functions, Go's printing and
// truthiness). The subset is documented in docs/format.md. Loaded only by commands given --format.
//
// Go has structs and maps; JSON-like data has only objects. An object marked with goMap() is a
// map: its keys print sorted as map[k:v], a missing key is <no value>. Any other object is a
// struct: printed {v1 v2} in field order, a missing field is an error, as Go says it.

const MAPS = new WeakSet<object>();
/** Mark an object as a Go map (see above). Returns it. */
export function goMap<T extends object>(o: T): T {
  MAPS.add(o);
  return o;
}
export const isGoMap = (o: unknown): boolean => typeof o === 'object' && o !== null && MAPS.has(o);

const asNull = { value: () => null, enumerable: false };
/**
 * Go's nil slice: empty in templates (printed [], false, len 0), null in JSON, as docker's
 * `"Entrypoint": null` is. (A bare JSON null is a nil pointer: printed <nil>.)
 */
export const nilSlice = <T = string>(): T[] => Object.defineProperty([] as T[], 'toJSON', asNull);
/** Go's nil map: empty in templates (printed map[]), null in JSON. */
export const nilMap = <T = string>(): Record<string, T> => goMap(Object.defineProperty({} as Record<string, T>, 'toJSON', asNull));

/**
 * Go's `json:",omitempty"` on struct fields: each named field, when empty ("", null, false, an
 * empty slice or map; not 0), stays in the struct for templates (`{{.Config.ExposedPorts}}`
 * prints map[], `{{.State.Health}}` <nil>, a bind's `{{.Mounts}}` its empty Name) but is left
 * out of the JSON, as docker leaves it out. The field keeps its place. Returns the object.
 */
export function omitEmpty<T extends object>(o: T, ...keys: (keyof T & string)[]): T {
  for (const k of keys) {
    const v: unknown = o[k];
    const empty = v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && !v.length) || (isGoMap(v) && !Object.keys(v as object).length);
    if (empty) Object.defineProperty(o, k, { enumerable: false });
  }
  return o;
}

export class TemplateError extends Error {}

// ----------------------------------------------------------------------------- lexer

type Tok =
  | { t: 'text'; v: string }
  | { t: 'open' } // {{
  | { t: 'close' } // }}
  | { t: 'field'; v: string[] } // .A.B (empty: the dot itself)
  | { t: 'var'; v: string; fields: string[] } // $x.A
  | { t: 'ident'; v: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'punct'; v: '(' | ')' | '|' | ':=' | '=' | ',' }
  | { t: 'chain'; v: string[] }; // .A.B right after a ')'

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (open >= 0 && /^\{\{-[ \t\r\n]/.test(src.slice(open, open + 4))) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) out.push({ t: 'text', v: text });
    if (open < 0) break;
    i = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(i, i + 2))) i++;
    // A comment is the whole action.
    const rest = src.slice(i).replace(/^[ \t\r\n]*/, '');
    if (rest.startsWith('/*')) {
      const end = src.indexOf('*/', i);
      if (end < 0) throw new TemplateError('unclosed comment');
      const close = src.slice(end + 2).match(/^[ \t\r\n]*(-?)\}\}/);
      if (!close) throw new TemplateError('comment ends before closing delimiter');
      i = end + 2 + close[0].length;
      if (close[1]) i = skipSpace(src, i);
      continue;
    }
    out.push({ t: 'open' });
    let prev: Tok | undefined;
    for (;;) {
      if (i >= src.length) throw new TemplateError('unclosed action');
      const c = src[i];
      if (/[ \t\r\n]/.test(c)) {
        if (src.startsWith('-}}', i + 1)) {
          out.push({ t: 'close' });
          i = skipSpace(src, i + 4);
          break;
        }
        i++;
        prev = undefined;
        continue;
      }
      if (src.startsWith('}}', i)) {
        out.push({ t: 'close' });
        i += 2;
        break;
      }
      let tok: Tok;
      const m = (re: RegExp) => src.slice(i).match(re)?.[0] ?? '';
      if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
        const s = m(/^(\.[A-Za-z_][A-Za-z0-9_]*)+|^\./);
        const fields = s === '.' ? [] : s.slice(1).split('.');
        tok = prev && prev.t === 'punct' && prev.v === ')' && fields.length ? { t: 'chain', v: fields } : { t: 'field', v: fields };
        i += s.length;
      } else if (c === '$') {
        const s = m(/^\$[A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/);
        const [name, ...fields] = s.split('.');
        tok = { t: 'var', v: name, fields };
        i += s.length;
      } else if (c === '"') {
        const s = m(/^"(?:[^"\\\n]|\\.)*"/);
        if (!s) throw new TemplateError('unterminated quoted string');
        tok = { t: 'str', v: JSON.parse(s.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\\'/g, "'")) };
        i += s.length;
      } else if (c === '`') {
        const end = src.indexOf('`', i + 1);
        if (end < 0) throw new TemplateError('unterminated raw quoted string');
        tok = { t: 'str', v: src.slice(i + 1, end) };
        i = end + 1;
      } else if (/[-+0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1]))) {
        const s = m(/^[-+]?(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?)/);
        if (!s) throw new TemplateError(`bad number syntax: ${src.slice(i, i + 5)}`);
        tok = { t: 'num', v: Number(s) };
        i += s.length;
      } else if (c === "'") {
        const s = m(/^'(?:[^'\\]|\\.)'/);
        if (!s) throw new TemplateError('malformed character constant');
        tok = { t: 'num', v: JSON.parse(`"${s.slice(1, -1)}"`).codePointAt(0) };
        i += s.length;
      } else if (/[A-Za-z_]/.test(c)) {
        const s = m(/^[A-Za-z_][A-Za-z0-9_]*/);
        tok = { t: 'ident', v: s };
        i += s.length;
      } else if (src.startsWith(':=', i)) {
        tok = { t: 'punct', v: ':=' };
        i += 2;
      } else if ('()|=,'.includes(c)) {
        tok = { t: 'punct', v: c as '(' };
        i++;
      } else throw new TemplateError(`unexpected "${c}" in command`);
      out.push(tok);
      prev = tok;
    }
  }
  return out;
}

const skipSpace = (s: string, i: number): number => {
  while (i < s.length && /[ \t\r\n]/.test(s[i])) i++;
  return i;
};

// ----------------------------------------------------------------------------- parser

type Arg =
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'fn'; name: string }
  | { k: 'pipe'; p: Pipe; path: string[] };
interface Cmd {
  args: Arg[];
}
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
}
type Node =
  | { k: 'text'; v: string }
  | { k: 'action'; p: Pipe }
  | { k: 'if' | 'with'; p: Pipe; then: Node[]; else: Node[] }
  | { k: 'range'; p: Pipe; then: Node[]; else: Node[] }
  | { k: 'break' | 'continue' };

class Parser {
  i = 0;
  constructor(private toks: Tok[]) {}
  peek = () => this.toks[this.i];
  next = () => this.toks[this.i++];

  /** Nodes until one of `stops` ({{end}}, {{else}}); returns them and the stop word. */
  list(stops: string[]): { nodes: Node[]; stop?: string } {
    const nodes: Node[] = [];
    while (this.i < this.toks.length) {
      const t = this.next();
      if (t.t === 'text') {
        nodes.push({ k: 'text', v: t.v });
        continue;
      }
      const kw = this.peek();
      if (kw?.t === 'ident' && ['end', 'else', 'if', 'range', 'with', 'break', 'continue', 'define', 'template', 'block'].includes(kw.v)) {
        this.i++;
        const w = kw.v;
        if (w === 'end' || w === 'else') {
          if (!stops.includes(w)) throw new TemplateError(`unexpected {{${w}}}`);
          if (w === 'end') this.expectClose();
          return { nodes, stop: w };
        }
        if (w === 'break' || w === 'continue') {
          this.expectClose();
          nodes.push({ k: w });
          continue;
        }
        if (w === 'define' || w === 'template' || w === 'block') throw new TemplateError(`{{${w}}} is not supported (see docs/format.md)`);
        nodes.push(this.control(w as 'if' | 'range' | 'with'));
        continue;
      }
      nodes.push({ k: 'action', p: this.pipe() });
    }
    if (stops.length) throw new TemplateError('unexpected EOF: missing {{end}}');
    return { nodes };
  }

  control(w: 'if' | 'range' | 'with'): Node {
    const p = this.pipe();
    const body = this.list(['end', 'else']);
    let els: Node[] = [];
    if (body.stop === 'else') {
      // {{else if ...}} / {{else with ...}}: a nested control that shares our {{end}}.
      const nx = this.peek();
      if (nx?.t === 'ident' && (nx.v === 'if' || nx.v === 'with') && w !== 'range') {
        this.i++;
        els = [this.control(nx.v as 'if')];
      } else {
        this.expectClose();
        els = this.list(['end']).nodes;
      }
    }
    return { k: w, p, then: body.nodes, else: els };
  }

  expectClose(): void {
    const t = this.next();
    if (t?.t !== 'close') throw new TemplateError('unexpected token in action: expected }}');
  }

  /** A pipeline up to }} or ). */
  pipe(inParens = false): Pipe {
    const p: Pipe = { decl: [], assign: false, cmds: [] };
    // $x := / $k, $v :=
    const save = this.i;
    const vars: string[] = [];
    while (this.peek()?.t === 'var' && (this.peek() as any).fields.length === 0) {
      vars.push((this.next() as any).v);
      const n = this.peek();
      if (n?.t === 'punct' && n.v === ',') {
        this.i++;
        continue;
      }
      break;
    }
    const op = this.peek();
    if (vars.length && op?.t === 'punct' && (op.v === ':=' || op.v === '=')) {
      this.i++;
      p.decl = vars;
      p.assign = op.v === '=';
    } else this.i = save;
    let cmd: Cmd = { args: [] };
    for (;;) {
      const t = this.next();
      if (!t) throw new TemplateError('unclosed action');
      if ((t.t === 'close' && !inParens) || (t.t === 'punct' && t.v === ')' && inParens)) break;
      if (t.t === 'close') throw new TemplateError('unclosed left paren');
      if (t.t === 'punct' && t.v === '|') {
        if (!cmd.args.length) throw new TemplateError('missing command before |');
        p.cmds.push(cmd);
        cmd = { args: [] };
        continue;
      }
      cmd.args.push(this.operand(t));
    }
    if (cmd.args.length) p.cmds.push(cmd);
    if (!p.cmds.length) throw new TemplateError('missing value for command');
    return p;
  }

  operand(t: Tok): Arg {
    switch (t.t) {
      case 'field':
        return { k: 'field', path: t.v };
      case 'var':
        return { k: 'var', name: t.v, path: t.fields };
      case 'str':
      case 'num':
        return { k: 'lit', v: t.v };
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { k: 'lit', v: null };
        return { k: 'fn', name: t.v };
      case 'punct':
        if (t.v === '(') {
          const p = this.pipe(true);
          const n = this.peek();
          let path: string[] = [];
          if (n?.t === 'chain') {
            path = n.v;
            this.i++;
          }
          return { k: 'pipe', p, path };
        }
    }
    throw new TemplateError(`unexpected ${JSON.stringify((t as any).v ?? t.t)} in operand`);
  }
}

// ----------------------------------------------------------------------------- printing

/** Go's %v of a value (as text/template prints an action's result). */
export function printValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  return fmtV(v, true);
}

function fmtV(v: unknown, top = false): string {
  if (v === null || v === undefined) return top ? '<nil>' : '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return `[${v.map((x) => fmtV(x)).join(' ')}]`;
  if (typeof v === 'object') {
    if (MAPS.has(v)) {
      const keys = Object.keys(v).sort();
      return `map[${keys.map((k) => `${k}:${fmtV((v as any)[k])}`).join(' ')}]`;
    }
    // Every field, those omitEmpty() keeps out of the JSON too.
    const fields = Object.getOwnPropertyNames(v).filter((k) => k !== 'toJSON').map((k) => (v as any)[k]);
    return `{${fields.filter((x) => typeof x !== 'function').map((x) => fmtV(x)).join(' ')}}`;
  }
  return String(v);
}

/** Integers as %d; other numbers as Go's %v (shortest, exponent from e21 or below e-4, two-digit exponent). */
function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) {
    const [m, e] = n.toExponential().split('e');
    const sign = e.startsWith('-') ? '-' : '+';
    return `${m}e${sign}${e.replace(/^[-+]/, '').padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's truth: false, 0, "", nil, and empty arrays and maps are false; structs are true. */
export function truth(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && MAPS.has(v)) return Object.keys(v).length > 0;
  return true;
}

/** JSON as docker's `json` function writes it: no HTML escaping, map keys sorted (Go's encoding/json). */
export function goJson(v: unknown): string {
  return JSON.stringify(v === undefined ? null : sortMaps(v));
}
function sortMaps(v: unknown): unknown {
  if (v && typeof (v as any).toJSON === 'function') v = (v as any).toJSON();
  if (Array.isArray(v)) return v.map(sortMaps);
  if (v && typeof v === 'object') {
    // A list row (ps, images...) is docker's formatter context: its methods without
    // arguments are its fields, marshalled as a map (keys sorted), as docker's MarshalJSON does.
    const context = Object.values(v).some((x) => typeof x === 'function');
    const keys = MAPS.has(v) || context ? Object.keys(v).sort() : Object.keys(v);
    const o: Record<string, unknown> = {};
    for (const k of keys) {
      const x = (v as any)[k];
      if (typeof x !== 'function') o[k] = sortMaps(x);
      else if (x.length === 0) o[k] = sortMaps(x());
    }
    return o;
  }
  return v;
}

/** Go's fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %g %e %x %X %o %b %c %%, flags - + 0 space, width, precision. */
export function sprintf(format: string, args: unknown[]): string {
  let ai = 0;
  return format.replace(/%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])/g, (_all, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (width === '*') width = String(args[ai++]);
    if (prec === '*') prec = String(args[ai++]);
    if (ai >= args.length) return `%!${verb}(MISSING)`;
    const a = args[ai++];
    let s: string;
    const p = prec === undefined ? undefined : Number(prec);
    switch (verb) {
      case 'v':
        s = typeof a === 'string' ? a : fmtV(a);
        break;
      case 's':
        s = typeof a === 'string' ? a : fmtV(a);
        if (p !== undefined) s = [...s].slice(0, p).join('');
        break;
      case 'q':
        s = typeof a === 'number' ? `'${String.fromCodePoint(a)}'` : JSON.stringify(typeof a === 'string' ? a : fmtV(a));
        break;
      case 'd':
        s = typeof a === 'number' && Number.isInteger(a) ? String(a) : `%!d(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'f':
      case 'F':
        s = typeof a === 'number' ? a.toFixed(p ?? 6) : `%!f(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'e':
        s = typeof a === 'number' ? goExp(a.toExponential(p ?? 6)) : `%!e(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? goNumber(p === undefined ? a : Number(a.toPrecision(p))) : `%!g(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'x':
      case 'X': {
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(String(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'o':
        s = typeof a === 'number' ? Math.trunc(a).toString(8) : `%!o(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'b':
        s = typeof a === 'number' ? Math.trunc(a).toString(2) : `%!b(${typeOf(a)}=${fmtV(a)})`;
        break;
      case 'c':
        s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${typeOf(a)}=${fmtV(a)})`;
        break;
      default:
        s = `%!${verb}(${typeOf(a)}=${fmtV(a)})`;
    }
    if (typeof a === 'number' && /[dfeg]/.test(verb)) {
      if (flags.includes('+') && a >= 0) s = '+' + s;
      else if (flags.includes(' ') && a >= 0) s = ' ' + s;
    }
    const w = width ? Number(width) : 0;
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && typeof a === 'number') {
        const sign = /^[-+ ]/.test(s) ? s[0] : '';
        s = sign + s.slice(sign.length).padStart(w - sign.length, '0');
      } else s = s.padStart(w);
    }
    return s;
  }) + (ai < args.length ? `%!(EXTRA ${args.slice(ai).map((a) => `${typeOf(a)}=${fmtV(a)}`).join(', ')})` : '');
}
const goExp = (s: string) => s.replace(/e([-+])(\d)$/, 'e$10$2');

function typeOf(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  return MAPS.has(v as object) ? 'map[string]interface {}' : 'struct';
}

// ----------------------------------------------------------------------------- functions

type Fn = (...a: unknown[]) => unknown;

const str = (v: unknown): string => (typeof v === 'string' ? v : fmtV(v));

function lenOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v); // Go counts bytes
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object' && MAPS.has(v)) return Object.keys(v).length;
  throw new TemplateError(`error calling len: len of type ${typeOf(v)}`);
}

function indexOf(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (v === null || v === undefined) throw new TemplateError('error calling index: index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new TemplateError(`error calling index: cannot index slice/array with type ${typeOf(k)}`);
      if (k < 0 || k >= v.length) throw new TemplateError(`error calling index: index out of range: ${k}`);
      v = typeof v === 'string' ? Buffer.from(v)[k] : v[k];
    } else if (typeof v === 'object' && MAPS.has(v)) {
      // A missing key gives the element type's zero value, guessed from the other values:
      // "" in a map of strings, a nil slice in a map of slices, else nil.
      v = Object.prototype.hasOwnProperty.call(v, String(k)) ? (v as any)[String(k)] : zeroOf(Object.values(v));
    } else throw new TemplateError(`error calling index: can't index item of type ${typeOf(v)}`);
  }
  return v;
}

function zeroOf(values: unknown[]): unknown {
  const some = values.find((x) => x !== null && x !== undefined);
  if (typeof some === 'string' || (!values.length && some === undefined)) return '';
  if (Array.isArray(some) || values.some(Array.isArray) || (values.length && some === undefined)) return nilSlice();
  if (typeof some === 'number') return 0;
  if (typeof some === 'boolean') return false;
  return null;
}

function cmp(name: string, a: unknown, b: unknown): number {
  const basic = (x: unknown) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  if (!basic(a) || !basic(b)) {
    if (name === 'eq' || name === 'ne') {
      if ((a === null || a === undefined) && (b === null || b === undefined)) return 0;
      throw new TemplateError(`error calling ${name}: incompatible types for comparison`);
    }
    throw new TemplateError(`error calling ${name}: invalid type for comparison`);
  }
  if (typeof a !== typeof b) throw new TemplateError(`error calling ${name}: incompatible types for comparison`);
  if (typeof a === 'boolean' && name !== 'eq' && name !== 'ne') throw new TemplateError(`error calling ${name}: invalid type for comparison`);
  return a === b ? 0 : (a as any) < (b as any) ? -1 : 1;
}

/** Go's built-in functions plus docker's (cli/templates): json, split, join, title, lower, upper, pad, truncate. */
const BUILTINS: Record<string, Fn> = {
  and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
  not: (a) => !truth(a),
  len: lenOf,
  index: indexOf,
  slice: (v, ...ix) => {
    const [i = 0, j] = ix as number[];
    if (typeof v === 'string') return v.slice(i, j);
    if (Array.isArray(v)) return v.slice(i, j);
    throw new TemplateError(`error calling slice: can't slice item of type ${typeOf(v)}`);
  },
  print: (...a) => a.map((x, i) => (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + str(x)).join(''),
  println: (...a) => a.map(str).join(' ') + '\n',
  printf: (f, ...a) => sprintf(String(f), a),
  eq: (a, ...b) => b.some((x) => cmp('eq', a, x) === 0),
  ne: (a, b) => cmp('ne', a, b) !== 0,
  lt: (a, b) => cmp('lt', a, b) < 0,
  le: (a, b) => cmp('le', a, b) <= 0,
  gt: (a, b) => cmp('gt', a, b) > 0,
  ge: (a, b) => cmp('ge', a, b) >= 0,
  urlquery: (...a) => encodeURIComponent(a.map(str).join('')).replace(/%20/g, '+'),
  html: (...a) => a.map(str).join('').replace(/[&'<>"]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;' })[c]!),
  js: (...a) => a.map(str).join('').replace(/[\\'"<>&=]/g, (c) => (c === '\\' || c === "'" || c === '"' ? '\\' + c : `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)),
  // docker's
  json: (v) => goJson(v),
  split: (s, sep) => String(s).split(String(sep)),
  join: (a, sep) => {
    if (!Array.isArray(a)) throw new TemplateError(`error calling join: wrong type for value; expected []string; got ${typeOf(a)}`);
    return a.map(str).join(String(sep));
  },
  title: (s) => String(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase()),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  pad: (s, l, r) => ' '.repeat(Number(l)) + String(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => [...String(s)].slice(0, Number(n)).join(''),
};

/** docker's header functions: in a table's header row they return their argument. */
const HEADER_FNS: Record<string, Fn> = Object.fromEntries(['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, (v: unknown) => v]));

// ----------------------------------------------------------------------------- evaluator

class Break {}
class Continue {}

interface Scope {
  vars: Map<string, unknown>[];
  fns: Record<string, Fn>;
}

function lookupVar(s: Scope, name: string): unknown {
  for (let i = s.vars.length - 1; i >= 0; i--) if (s.vars[i].has(name)) return s.vars[i].get(name);
  throw new TemplateError(`undefined variable: ${name}`);
}

function field(v: unknown, name: string, args: unknown[] = [], final = true): unknown {
  if (v === null || v === undefined) throw new TemplateError(`nil pointer evaluating ${typeOf(v)}.${name}`);
  if (typeof v !== 'object' || Array.isArray(v)) throw new TemplateError(`can't evaluate field ${name} in type ${typeOf(v)}`);
  if (MAPS.has(v)) {
    if (args.length && final) throw new TemplateError(`${name} is not a method but has arguments`);
    return Object.prototype.hasOwnProperty.call(v, name) ? (v as any)[name] : undefined;
  }
  if (!Object.prototype.hasOwnProperty.call(v, name)) throw new TemplateError(`can't evaluate field ${name} in type ${typeOf(v)}`);
  const f = (v as any)[name];
  if (typeof f === 'function') return f(...(final ? args : []));
  if (args.length && final) throw new TemplateError(`${name} has arguments but cannot be invoked as function`);
  return f;
}

function walk(v: unknown, path: string[], args: unknown[] = []): unknown {
  path.forEach((name, i) => (v = field(v, name, args, i === path.length - 1)));
  return v;
}

function evalArg(a: Arg, dot: unknown, s: Scope, args: unknown[] = [], piped?: { v: unknown }): unknown {
  switch (a.k) {
    case 'lit':
      return a.v;
    case 'field':
      return a.path.length ? walk(dot, a.path, piped ? [...args, piped.v] : args) : dot;
    case 'var':
      return walk(lookupVar(s, a.name), a.path, args);
    case 'pipe':
      return walk(evalPipe(a.p, dot, s), a.path, args);
    case 'fn': {
      const f = s.fns[a.name];
      if (!f) throw new TemplateError(`function "${a.name}" not defined`);
      return f(...args, ...(piped ? [piped.v] : []));
    }
  }
}

function evalCmd(c: Cmd, dot: unknown, s: Scope, piped?: { v: unknown }): unknown {
  const [head, ...rest] = c.args;
  if (head.k === 'fn' && head.name in s.fns) {
    // `and`/`or` stop at their first deciding argument, as Go's do.
    if (head.name === 'and' || head.name === 'or') {
      const all = [...rest.map((r) => () => evalArg(r, dot, s)), ...(piped ? [() => piped.v] : [])];
      let last: unknown;
      for (const get of all) {
        last = get();
        if (truth(last) === (head.name === 'or')) return last;
      }
      return last;
    }
    return evalArg(head, dot, s, rest.map((r) => evalArg(r, dot, s)), piped);
  }
  if (head.k === 'fn') throw new TemplateError(`function "${head.name}" not defined`);
  if (rest.length || piped) {
    // Only a method (a function-valued field) takes arguments.
    if (head.k !== 'field' || !head.path.length) throw new TemplateError(`can't give argument to non-function ${describe(head)}`);
    return evalArg(head, dot, s, rest.map((r) => evalArg(r, dot, s)), piped);
  }
  return evalArg(head, dot, s);
}

const describe = (a: Arg) => (a.k === 'field' ? '.' + a.path.join('.') : a.k === 'lit' ? JSON.stringify(a.v) : a.k);

function evalPipe(p: Pipe, dot: unknown, s: Scope): unknown {
  let v: unknown;
  p.cmds.forEach((c, i) => (v = evalCmd(c, dot, s, i === 0 ? undefined : { v })));
  if (p.decl.length) {
    if (p.assign) {
      for (let i = s.vars.length - 1; i >= 0; i--)
        if (s.vars[i].has(p.decl[0])) {
          s.vars[i].set(p.decl[0], v);
          return v;
        }
      throw new TemplateError(`undefined variable: ${p.decl[0]}`);
    }
    s.vars[s.vars.length - 1].set(p.decl[0], v);
  }
  return v;
}

function exec(nodes: Node[], dot: unknown, s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.k) {
      case 'text':
        out.push(n.v);
        break;
      case 'action': {
        const v = evalPipe(n.p, dot, s);
        if (!n.p.decl.length) out.push(printValue(v));
        break;
      }
      case 'if':
      case 'with': {
        s.vars.push(new Map());
        try {
          const v = evalPipe(n.p, dot, s);
          if (truth(v)) exec(n.then, n.k === 'with' ? v : dot, s, out);
          else exec(n.else, dot, s, out);
        } finally {
          s.vars.pop();
        }
        break;
      }
      case 'range':
        range(n, dot, s, out);
        break;
      case 'break':
        throw new Break();
      case 'continue':
        throw new Continue();
    }
  }
}

function range(n: Extract<Node, { k: 'range' }>, dot: unknown, s: Scope, out: string[]): void {
  const decl = n.p.decl;
  const v = evalPipe({ ...n.p, decl: [] }, dot, s);
  let items: [unknown, unknown][];
  if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
  else if (v && typeof v === 'object' && MAPS.has(v)) items = Object.keys(v).sort().map((k) => [k, (v as any)[k]]);
  else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
  else if (v === null || v === undefined) items = [];
  else throw new TemplateError(`range can't iterate over ${fmtV(v)}`);
  if (!items.length) return exec(n.else, dot, s, out);
  for (const [k, x] of items) {
    const scope = new Map<string, unknown>();
    if (decl.length === 1) scope.set(decl[0], x);
    if (decl.length === 2) {
      scope.set(decl[0], k);
      scope.set(decl[1], x);
    }
    s.vars.push(scope);
    try {
      exec(n.then, x, s, out);
    } catch (e) {
      if (e instanceof Break) break;
      if (!(e instanceof Continue)) throw e;
    } finally {
      s.vars.pop();
    }
  }
}

export interface Template {
  /** Render for one value (the dot). */
  execute(data: unknown, opts?: { header?: boolean }): string;
}

/** Parse a template; errors say "template parsing error: ..." as docker's do. */
export function parseTemplate(src: string): Template {
  let nodes: Node[];
  try {
    nodes = new Parser(lex(src)).list([]).nodes;
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`template parsing error: template: :1: ${e.message}`);
    throw e;
  }
  return {
    execute(data, opts = {}) {
      const out: string[] = [];
      const scope: Scope = { vars: [new Map([['$', data]])], fns: opts.header ? { ...BUILTINS, ...HEADER_FNS } : BUILTINS };
      try {
        exec(nodes, data, scope, out);
      } catch (e) {
        if (e instanceof TemplateError) throw new TemplateError(`template: :1: executing: ${e.message}`);
        if (e instanceof Break || e instanceof Continue) throw new TemplateError('template: {{break}} or {{continue}} outside {{range}}');
        throw e;
      }
      return out.join('');
    },
  };
}

// ----------------------------------------------------------------------------- tables

/**
 * Go's text/tabwriter as docker sets it up (minwidth 10, tabwidth 1, padding 3, ' '): cells
 * ended by a tab are aligned in columns; a line's last cell is written as it is.
 */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n');
  const cells = lines.map((l) => l.split('\t'));
  const out: string[] = lines.map(() => '');
  // Columns as tabwriter makes them: a column runs over consecutive lines that have a cell there.
  const widthAt = (col: number, from: number): { end: number; width: number } => {
    let end = from;
    let width = minwidth;
    while (end < cells.length && cells[end].length - 1 > col) {
      width = Math.max(width, [...cells[end][col]].length + padding);
      end++;
    }
    return { end, width };
  };
  const pending = cells.map(() => 0); // next column per line
  for (let col = 0; ; col++) {
    let any = false;
    for (let ln = 0; ln < cells.length; ) {
      if (cells[ln].length - 1 <= col) {
        ln++;
        continue;
      }
      any = true;
      const { end, width } = widthAt(col, ln);
      for (let k = ln; k < end; k++) {
        out[k] += cells[k][col] + ' '.repeat(width - [...cells[k][col]].length);
        pending[k] = col + 1;
      }
      ln = end;
    }
    if (!any) break;
  }
  return cells.map((c, i) => out[i] + c[c.length - 1]).join('\n');
}

export interface FormatOptions {
  /** The context's headers by field name, for `table` (e.g. ID: "CONTAINER ID"). */
  headers?: Record<string, string>;
}

/**
 * docker's list formatting (cli/command/formatter): "table ..." prints a header row and aligns
 * columns; `\t` and `\n` typed in the format are a tab and a newline; "json" is {{json .}};
 * each row ends in a newline.
 */
export function formatRows(format: string, rows: unknown[], opts: FormatOptions = {}): string {
  let f = format;
  const table = /^table(\s|$)/.test(f);
  if (table) f = f.slice('table'.length);
  f = f.trim();
  if (f === 'json') f = '{{json .}}';
  f = f.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const t = parseTemplate(f);
  const body = rows.map((r) => t.execute(r) + '\n').join('');
  if (!table) return body;
  const header = new Proxy(
    {},
    {
      has: () => true,
      getOwnPropertyDescriptor: (_t, k) => ({ configurable: true, enumerable: true, value: headerOf(opts.headers, String(k)) }),
      get: (_t, k) => headerOf(opts.headers, String(k)),
    },
  );
  return tabwrite(t.execute(header, { header: true }) + '\n' + body);
}

/** A header cell: a method (called with or without arguments, as .Label "x" is) giving the column's title. */
function headerOf(headers: Record<string, string> | undefined, k: string): () => string {
  const h = headers?.[k] ?? k.toUpperCase();
  return () => h;
}
