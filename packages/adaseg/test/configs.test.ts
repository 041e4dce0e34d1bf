// Every config shipped in configs/ must stay valid as the config formats evolve. Only parsing is
// checked here (no dataset is read), so this runs without the shared datasets.
import { test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseExperimentConfig } from '../src/active/experiment.js';
import { parseAdaptConfig } from '../src/adapt/config.js';
import { parseTrainConfig } from '../src/train/config.js';

const configs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'configs');

for (const file of readdirSync(configs).filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))) {
  test(`configs/${file} is a valid config (parsing throws, naming the field, when it is not)`, () => {
    const value = parse(readFileSync(join(configs, file), 'utf8')) as Record<string, unknown>;
    // The command a config is for follows from its sections.
    if ('active' in value || 'rounds' in value) parseExperimentConfig(value, configs);
    else if ('adapt' in value) parseAdaptConfig(value, configs);
    else parseTrainConfig(value, configs);
  });
}
