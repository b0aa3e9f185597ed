// The committed fraud model (models/fraud) as a terminal installs it, for
// the tests of the fraud scorer in kassad (tests/api/fraud.test.mjs,
// tests/peer/triage.test.mjs): a key made for the test (kassa model
// keygen), the manifest signed with it (kassa model sign), and the kassa
// CLI calls that trust the key and install the model on a terminal's data
// directory (docs/MODELS.md). Nothing is retrained.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KASSA, REPO } from './harness.mjs';

const MODEL_DIR = path.join(REPO, 'models', 'fraud');

function kassaBare(...args) {
  try {
    return execFileSync(KASSA, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`kassa ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** A signed copy of models/fraud in dir/fraud-model: {dir, pub}. */
export function signedFraudModel(dir) {
  const out = path.join(dir, 'fraud-model');
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['fraud.json', 'manifest.json']) fs.copyFileSync(path.join(MODEL_DIR, f), path.join(out, f));
  const prefix = path.join(dir, 'model-key');
  kassaBare('model', 'keygen', prefix);
  kassaBare('model', 'sign', '--key', `${prefix}.key`, path.join(out, 'fraud.json'), path.join(out, 'manifest.json'));
  return { dir: out, pub: `${prefix}.pub` };
}

/** The kassa calls (after --data DIR) that trust the key and install the model. */
export function installCommands(model) {
  return [['model', 'trust', model.pub], ['model', 'install', '--runs', '200', model.dir]];
}

/** Where a terminal keeps the installed model file of a version. */
export function installedModelFile(dataDir, version = 1) {
  return path.join(dataDir, 'models', 'installed', 'fraud', String(version), 'fraud.json');
}
