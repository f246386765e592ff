// JSROOT as an oracle: parse each root.json text with JSROOT's own parse() and draw it with
// makeSVG() (JSROOT's batch mode in node), so a test can read what JSROOT drew.
// Usage: node jsroot_draw.mjs <file URL of jsroot/modules/main.mjs> < [{key, json, option}]
// Prints {key: svg} as JSON.
import { readFileSync } from 'node:fs';

const { parse, makeSVG } = await import(process.argv[2]);
const cases = JSON.parse(readFileSync(0, 'utf8'));
const out = {};
for (const c of cases)
   out[c.key] = await makeSVG({ object: parse(c.json), option: c.option, width: 800, height: 600 });
process.stdout.write(JSON.stringify(out));
