const fs = require('fs'), vm = require('vm');
const file = '/tmp/cc/minid.wrapped.js';
const src = fs.readFileSync(file, 'utf8');
let cachedData; try { cachedData = fs.readFileSync('/tmp/cc/minid.cache'); } catch {}
const script = new vm.Script(src, { filename: file, cachedData });
if (process.env.CC_DEBUG) console.error('rejected', script.cachedDataRejected);
const mod = { exports: {} };
script.runInThisContext()(require, mod, mod.exports, require('url').pathToFileURL(__filename).href);
if (process.env.CC_WRITE) process.on('exit', () => fs.writeFileSync('/tmp/cc/minid.cache', script.createCachedData()));
mod.exports.main(process.argv);
