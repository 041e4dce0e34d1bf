// The adaptation methods adaseg knows, one entry per `adapt.method`: how its config section is
// read, how the method is built, and what it provides besides the adapted model. Config parsing,
// method construction and "does this run leave a domain discriminator?" all go through here, so
// adding a loss-only method is one class in methods.ts (or its own file) and one entry below.
import { ConfigReader } from '../util/config-reader.js';
import type { DiscriminatorInput } from './discriminator.js';
import type { AdaptMethodConfig, AdversarialConfig, MethodCommon } from './config.js';
import { type AdaptationMethod, AdversarialMethod, EntropyMethod, type MethodContext, SelfTrainingMethod } from './methods.js';

/** A domain discriminator a method trains and leaves in its checkpoints (`modules.d_main`, `modules.d_aux`). */
export interface ProvidedDiscriminator {
  input: DiscriminatorInput;
  objective: AdversarialConfig['gan'];
}

export interface AdaptMethodEntry<C extends AdaptMethodConfig = AdaptMethodConfig> {
  readonly method: C['method'];
  /** Its config keys besides the common ones (method, levels, labelledTargetWeight). */
  readonly keys: readonly string[];
  /** Reads its fields (defaults filled in; errors name the field) after the common ones. */
  parse(r: ConfigReader, common: MethodCommon): C;
  create(config: C, ctx: MethodContext): AdaptationMethod;
  /** The discriminator its runs leave (strategies that need target-ness read it), or null. */
  discriminator(config: C): ProvidedDiscriminator | null;
}

function betasAt(r: ConfigReader, key: string, fallback: [number, number]): [number, number] {
  const b = r.raw(key) ?? fallback;
  if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && x >= 0 && x < 1))
    r.fail(key, `must be two numbers in [0, 1), got ${JSON.stringify(b)}`);
  return [b[0], b[1]];
}

function fraction(r: ConfigReader, key: string, fallback: number): number {
  return r.number(key, fallback, { min: 0, exclusiveMin: true, max: 1 });
}

/** AdaptSegNet (D reads softmax maps) and ADVENT's AdvEnt (D reads self-information maps). */
function adversarial(method: AdversarialConfig['method'], input: DiscriminatorInput): AdaptMethodEntry<AdversarialConfig> {
  return {
    method,
    keys: ['lambdaAdv', 'lambdaAdvAux', 'gan', 'discriminator'],
    parse(r, common) {
      const d = r.object('discriminator', true) ?? ConfigReader.root({}, `${r.path}.discriminator`);
      d.only(['ndf', 'lr', 'betas', 'power']);
      return {
        method,
        ...common,
        lambdaAdv: r.number('lambdaAdv', 1e-3, { min: 0 }),
        lambdaAdvAux: r.number('lambdaAdvAux', 2e-4, { min: 0 }),
        gan: r.oneOf('gan', ['vanilla', 'ls'] as const, 'vanilla'),
        discriminator: {
          ndf: d.integer('ndf', 64, 1),
          lr: d.positive('lr', 1e-4),
          betas: betasAt(d, 'betas', [0.9, 0.99]),
          power: d.number('power', 0.9, { min: 0 }),
        },
      };
    },
    create: (config, ctx) => new AdversarialMethod(config, ctx, input),
    discriminator: (config) => ({ input, objective: config.gan }),
  };
}

/** Every adaptation method, in the order error messages list them. */
export const ADAPT_METHOD_REGISTRY = [
  adversarial('adaptsegnet', 'probabilities'),
  {
    method: 'advent-entropy',
    keys: ['lambdaEnt', 'lambdaEntAux'],
    parse: (r, common) => ({
      method: 'advent-entropy',
      ...common,
      lambdaEnt: r.number('lambdaEnt', 1e-3, { min: 0 }),
      lambdaEntAux: r.number('lambdaEntAux', 2e-4, { min: 0 }),
    }),
    create: (config, ctx) => new EntropyMethod(config, ctx.multiLevel),
    discriminator: () => null,
  } satisfies AdaptMethodEntry<Extract<AdaptMethodConfig, { method: 'advent-entropy' }>>,
  adversarial('advent-adversarial', 'self-information'),
  {
    method: 'self-training',
    keys: ['portion', 'maxThreshold', 'regenerateEvery', 'lambdaPseudo'],
    parse: (r, common) => ({
      method: 'self-training',
      ...common,
      portion: fraction(r, 'portion', 0.5),
      maxThreshold: fraction(r, 'maxThreshold', 0.9),
      regenerateEvery: r.integer('regenerateEvery', 0, 0),
      lambdaPseudo: r.number('lambdaPseudo', 1, { min: 0 }),
    }),
    create: (config, ctx) => new SelfTrainingMethod(config, ctx),
    discriminator: () => null,
  } satisfies AdaptMethodEntry<Extract<AdaptMethodConfig, { method: 'self-training' }>>,
] as const;

/** Every registered method is a member of the config union, and every member is registered. */
type Registered = (typeof ADAPT_METHOD_REGISTRY)[number]['method'];
const everyMethodRegistered: Record<AdaptMethodConfig['method'], true> = {
  adaptsegnet: true,
  'advent-entropy': true,
  'advent-adversarial': true,
  'self-training': true,
} satisfies Record<Registered, true>;
void everyMethodRegistered;

export const ADAPT_METHODS: readonly AdaptMethodConfig['method'][] = ADAPT_METHOD_REGISTRY.map((e) => e.method);

/** The registry entry of a config's method. */
export function adaptMethodEntry<C extends AdaptMethodConfig>(config: C | C['method']): AdaptMethodEntry<C> {
  const method = typeof config === 'string' ? config : config.method;
  const entry = ADAPT_METHOD_REGISTRY.find((e) => e.method === method);
  if (entry === undefined) throw new Error(`unknown adaptation method '${method}' (known: ${ADAPT_METHODS.join(', ')})`);
  return entry as unknown as AdaptMethodEntry<C>;
}

/** The discriminator a run of this method leaves in its checkpoints, or null (none, or no method). */
export function providedDiscriminator(config: { method: string } | undefined): ProvidedDiscriminator | null {
  if (config === undefined) return null;
  const entry = ADAPT_METHOD_REGISTRY.find((e) => e.method === config.method);
  return entry === undefined ? null : (entry.discriminator as (c: unknown) => ProvidedDiscriminator | null)(config);
}
