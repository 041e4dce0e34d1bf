// Class lists and raw-id → train-id mappings of the supported datasets. Train ids index a class
// list; IGNORE_INDEX marks pixels that count in no loss and no metric.

export const IGNORE_INDEX = 255;

export type RGB = readonly [number, number, number];

export interface ClassList {
  readonly names: readonly string[];
  readonly palette: readonly RGB[];
}

/**
 * How the values stored in a label file become train ids. Raw ids in `toTrain` map to a class;
 * raw ids in `ignore` are known but mean "no class" (void, unlabelled, a class outside the
 * protocol). Any other value is undeclared: a dataset holding one is reported, never trained on.
 */
export interface LabelMapping {
  readonly toTrain: readonly (readonly [raw: number, train: number])[];
  readonly ignore: readonly number[];
}

/** 255 always means "unknown" in label files read by adaseg, so partial labels work in every format. */
export const UNLABELLED_RAW = 255;

export function identityMapping(numClasses: number, ignore: readonly number[] = []): LabelMapping {
  const toTrain = Array.from({ length: numClasses }, (_, i) => [i, i] as const);
  return { toTrain, ignore: uniqueSorted([...ignore, UNLABELLED_RAW]) };
}

function uniqueSorted(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Lookup tables for a mapping: raw value (0..65535) → train id, and raw value → declared. */
export interface CompiledMapping {
  readonly lut: Uint8Array;
  readonly declared: Uint8Array;
}

export function compileMapping(mapping: LabelMapping, numClasses: number): CompiledMapping {
  const lut = new Uint8Array(65536).fill(IGNORE_INDEX);
  const declared = new Uint8Array(65536);
  for (const raw of mapping.ignore) {
    checkRaw(raw);
    declared[raw] = 1;
  }
  for (const [raw, train] of mapping.toTrain) {
    checkRaw(raw);
    if (!Number.isInteger(train) || train < 0 || train >= numClasses) {
      throw new RangeError(`label mapping: raw id ${raw} maps to train id ${train}, outside 0..${numClasses - 1}`);
    }
    lut[raw] = train;
    declared[raw] = 1;
  }
  return { lut, declared };
}

function checkRaw(raw: number): void {
  if (!Number.isInteger(raw) || raw < 0 || raw > 65535) throw new RangeError(`label mapping: raw id ${raw} is not an integer in 0..65535`);
}

/**
 * Re-targets a mapping from one class list onto another by class name: raw ids whose class is
 * not in `to` become ignore. This is how source and target datasets with different raw ids share
 * one class list (e.g. Cityscapes read with the 16 SYNTHIA classes).
 */
export function projectMapping(mapping: LabelMapping, from: readonly string[], to: readonly string[]): LabelMapping {
  const index = new Map(to.map((n, i) => [n, i]));
  const toTrain: [number, number][] = [];
  const ignore = [...mapping.ignore];
  for (const [raw, train] of mapping.toTrain) {
    const j = index.get(from[train]);
    if (j === undefined) ignore.push(raw);
    else toTrain.push([raw, j]);
  }
  return { toTrain, ignore: uniqueSorted(ignore) };
}

export function subsetClasses(classes: ClassList, names: readonly string[]): ClassList {
  const palette = names.map((n) => {
    const i = classes.names.indexOf(n);
    if (i < 0) throw new RangeError(`class '${n}' is not in [${classes.names.join(', ')}]`);
    return classes.palette[i];
  });
  return { names: [...names], palette };
}

// ---- Cityscapes ----

/** The 19 evaluation classes of Cityscapes, in train-id order, with their standard colours. */
export const CITYSCAPES_CLASSES: ClassList = {
  names: [
    'road',
    'sidewalk',
    'building',
    'wall',
    'fence',
    'pole',
    'traffic light',
    'traffic sign',
    'vegetation',
    'terrain',
    'sky',
    'person',
    'rider',
    'car',
    'truck',
    'bus',
    'train',
    'motorcycle',
    'bicycle',
  ],
  palette: [
    [128, 64, 128],
    [244, 35, 232],
    [70, 70, 70],
    [102, 102, 156],
    [190, 153, 153],
    [153, 153, 153],
    [250, 170, 30],
    [220, 220, 0],
    [107, 142, 35],
    [152, 251, 152],
    [70, 130, 180],
    [220, 20, 60],
    [255, 0, 0],
    [0, 0, 142],
    [0, 0, 70],
    [0, 60, 100],
    [0, 80, 100],
    [0, 0, 230],
    [119, 11, 32],
  ],
};

/** The 34 Cityscapes label ids (0..33): name and colour, as in cityscapesScripts' labels.py. */
export const CITYSCAPES_LABEL_IDS: readonly { id: number; name: string; color: RGB }[] = [
  { id: 0, name: 'unlabeled', color: [0, 0, 0] },
  { id: 1, name: 'ego vehicle', color: [0, 0, 0] },
  { id: 2, name: 'rectification border', color: [0, 0, 0] },
  { id: 3, name: 'out of roi', color: [0, 0, 0] },
  { id: 4, name: 'static', color: [0, 0, 0] },
  { id: 5, name: 'dynamic', color: [111, 74, 0] },
  { id: 6, name: 'ground', color: [81, 0, 81] },
  { id: 7, name: 'road', color: [128, 64, 128] },
  { id: 8, name: 'sidewalk', color: [244, 35, 232] },
  { id: 9, name: 'parking', color: [250, 170, 160] },
  { id: 10, name: 'rail track', color: [230, 150, 140] },
  { id: 11, name: 'building', color: [70, 70, 70] },
  { id: 12, name: 'wall', color: [102, 102, 156] },
  { id: 13, name: 'fence', color: [190, 153, 153] },
  { id: 14, name: 'guard rail', color: [180, 165, 180] },
  { id: 15, name: 'bridge', color: [150, 100, 100] },
  { id: 16, name: 'tunnel', color: [150, 120, 90] },
  { id: 17, name: 'pole', color: [153, 153, 153] },
  { id: 18, name: 'polegroup', color: [153, 153, 153] },
  { id: 19, name: 'traffic light', color: [250, 170, 30] },
  { id: 20, name: 'traffic sign', color: [220, 220, 0] },
  { id: 21, name: 'vegetation', color: [107, 142, 35] },
  { id: 22, name: 'terrain', color: [152, 251, 152] },
  { id: 23, name: 'sky', color: [70, 130, 180] },
  { id: 24, name: 'person', color: [220, 20, 60] },
  { id: 25, name: 'rider', color: [255, 0, 0] },
  { id: 26, name: 'car', color: [0, 0, 142] },
  { id: 27, name: 'truck', color: [0, 0, 70] },
  { id: 28, name: 'bus', color: [0, 60, 100] },
  { id: 29, name: 'caravan', color: [0, 0, 90] },
  { id: 30, name: 'trailer', color: [0, 0, 110] },
  { id: 31, name: 'train', color: [0, 80, 100] },
  { id: 32, name: 'motorcycle', color: [0, 0, 230] },
  { id: 33, name: 'bicycle', color: [119, 11, 32] },
];

/** Cityscapes label ids → the 19 train ids (labels.py); every other id 0..33 is ignore. */
export const CITYSCAPES_MAPPING: LabelMapping = (() => {
  const toTrain: [number, number][] = [];
  const ignore: number[] = [];
  for (const { id, name } of CITYSCAPES_LABEL_IDS) {
    const t = CITYSCAPES_CLASSES.names.indexOf(name);
    if (t >= 0) toTrain.push([id, t]);
    else ignore.push(id);
  }
  return { toTrain, ignore: uniqueSorted([...ignore, UNLABELLED_RAW]) };
})();

// ---- SYNTHIA-RAND-CITYSCAPES ----

/** SYNTHIA class ids (README of SYNTHIA-RAND-CITYSCAPES), 0..22. */
export const SYNTHIA_LABEL_IDS: readonly { id: number; name: string }[] = [
  { id: 0, name: 'void' },
  { id: 1, name: 'sky' },
  { id: 2, name: 'building' },
  { id: 3, name: 'road' },
  { id: 4, name: 'sidewalk' },
  { id: 5, name: 'fence' },
  { id: 6, name: 'vegetation' },
  { id: 7, name: 'pole' },
  { id: 8, name: 'car' },
  { id: 9, name: 'traffic sign' },
  { id: 10, name: 'pedestrian' },
  { id: 11, name: 'bicycle' },
  { id: 12, name: 'motorcycle' },
  { id: 13, name: 'parking-slot' },
  { id: 14, name: 'road-work' },
  { id: 15, name: 'traffic light' },
  { id: 16, name: 'terrain' },
  { id: 17, name: 'rider' },
  { id: 18, name: 'truck' },
  { id: 19, name: 'bus' },
  { id: 20, name: 'train' },
  { id: 21, name: 'wall' },
  { id: 22, name: 'lanemarking' },
];

/** The standard SYNTHIA → Cityscapes train-id mapping (19-class indices; ids 0, 13, 14, 22 are ignore). */
export const SYNTHIA_MAPPING_19: LabelMapping = {
  toTrain: [
    [3, 0],
    [4, 1],
    [2, 2],
    [21, 3],
    [5, 4],
    [7, 5],
    [15, 6],
    [9, 7],
    [6, 8],
    [16, 9],
    [1, 10],
    [10, 11],
    [17, 12],
    [8, 13],
    [18, 14],
    [19, 15],
    [20, 16],
    [12, 17],
    [11, 18],
  ],
  ignore: [0, 13, 14, 22, UNLABELLED_RAW],
};

/** The 16 classes of the SYNTHIA → Cityscapes protocol (the 19 without terrain, truck, train). */
export const SYNTHIA_16 = CITYSCAPES_CLASSES.names.filter((n) => !['terrain', 'truck', 'train'].includes(n));
/** The 13 classes of the SYNTHIA → Cityscapes protocol (the 16 without wall, fence, pole). */
export const SYNTHIA_13 = SYNTHIA_16.filter((n) => !['wall', 'fence', 'pole'].includes(n));

export type CityscapesProtocol = 19 | 16 | 13;

/** The class list of a Cityscapes-style protocol. */
export function cityscapesClasses(protocol: CityscapesProtocol): ClassList {
  if (protocol === 19) return CITYSCAPES_CLASSES;
  return subsetClasses(CITYSCAPES_CLASSES, protocol === 16 ? SYNTHIA_16 : SYNTHIA_13);
}

// ---- CamVid (SegNet) ----

/** The 11 CamVid classes of the SegNet tutorial; raw 11 is void. */
export const CAMVID_CLASSES: ClassList = {
  names: ['sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign_symbol', 'fence', 'car', 'pedestrian', 'bicyclist'],
  palette: [
    [128, 128, 128],
    [128, 0, 0],
    [192, 192, 128],
    [128, 64, 128],
    [60, 40, 222],
    [128, 128, 0],
    [192, 128, 128],
    [64, 64, 128],
    [64, 0, 128],
    [64, 64, 0],
    [0, 128, 192],
  ],
};
export const CAMVID_VOID = 11;
export const CAMVID_MAPPING: LabelMapping = identityMapping(11, [CAMVID_VOID]);

// ---- default palette ----

/** A distinct colour per class for class lists that come without one. */
export function defaultPalette(n: number): RGB[] {
  const out: RGB[] = [];
  for (let i = 0; i < n; i++) {
    // Bit-reversed PASCAL VOC-style colour map.
    let r = 0,
      g = 0,
      b = 0,
      c = i + 1;
    for (let j = 7; j >= 0 && c > 0; j--) {
      r |= (c & 1) << j;
      g |= ((c >> 1) & 1) << j;
      b |= ((c >> 2) & 1) << j;
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}
