// `await using` needs Symbol.asyncDispose. Node 20.4 and later have it; on an older runtime it
// is the symbol TypeScript's own `using` helpers look for. (In TypeScript, `await using`
// needs "lib": ["esnext.disposable", ...] or "esnext", and a target that lowers it or a
// runtime that has it.)
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for('Symbol.asyncDispose');
export {};
