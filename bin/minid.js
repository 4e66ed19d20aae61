#!/usr/bin/env node
// Entry point: keep it tiny. Everything else is loaded on demand by the CLI.
import('../dist/bundle/main.js').then((m) => m.main(process.argv));
