#!/usr/bin/env node
// The `netlens` command: a thin launcher for the bundled CLI (dist/cli.js, built from
// extension/cli/main.ts by `npm run build`).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write(`netlens: ${bundle} is missing; run 'npm run build' in ${path.dirname(__dirname)} first.\n`);
  process.exit(1);
}
require(bundle).runFromCommandLine(process.argv.slice(2));
