#!/usr/bin/env -S node --
// (`node --`: run directly, minid's arguments must not reach Node's option parser; see bin/minid.)
// Entry point: keep it tiny. Everything else is loaded on demand by the CLI.
// The processes minid starts (the supervisor's hook, CNI plugins) need no extra CA bundle
// either: see bin/minid.
delete process.env.NODE_EXTRA_CA_CERTS;
import('../dist/bundle/main.js').then((m) => m.main(process.argv));
