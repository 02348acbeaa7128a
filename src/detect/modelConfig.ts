import { z } from 'zod';

import { COCO_LABELS } from '../protocol/cocoLabels.js';
import { CENTERNET_MODEL } from './centernet/centernetSpec.js';
import { FAMILIES, type HeadSpec, type InputSpec, type ModelSpec } from './ModelSpec.js';
import { NANODET_MODEL } from './nanodet/nanodetSpec.js';

/** The models Vigil ships (fetched from their npm package, imported and calibrated by setup), by id. */
export const SHIPPED_MODELS: Readonly<Record<string, ModelSpec>> = {
  nanodet: NANODET_MODEL,
  centernet: CENTERNET_MODEL,
};

const names = (n: number) => z.array(z.string().min(1)).length(n);
const strides = z.array(z.int().min(1).max(128)).min(1).max(8);

/** Each family's head settings in the config (snake_case), with the defaults its exports use. */
const headSchemas = {
  nanodet: z.strictObject({
    strides: strides.default([8, 16, 32]),
    reg_max: z.int().min(1).max(64).default(10),
    cls: z.array(z.string().min(1)).optional(),
    reg: z.array(z.string().min(1)).optional(),
  }),
  centernet: z.strictObject({
    stride: z.int().min(1).max(64).default(4),
    heatmap: z.string().min(1).default('heatmap'),
    box: z.enum(['ltrb', 'size-offset']).default('ltrb'),
    distances: z.string().min(1).default('wh'),
    size: z.string().min(1).default('wh'),
    offset: z.string().min(1).default('reg'),
    order: z.enum(['xy', 'yx']).default('xy'),
    units: z.enum(['cells', 'pixels']).default('pixels'),
  }),
  yolo: z.strictObject({
    format: z.enum(['decoded', 'raw']).default('decoded'),
    output: z.string().min(1).default('output0'),
    strides: strides.default([8, 16, 32]),
    reg_max: z.int().min(1).max(64).default(16),
    box: z.array(z.string().min(1)).optional(),
    cls: z.array(z.string().min(1)).optional(),
  }),
  detr: z.strictObject({
    logits: z.string().min(1).default('pred_logits'),
    boxes: z.string().min(1).default('pred_boxes'),
    scores: z.enum(['sigmoid', 'softmax']).default('sigmoid'),
  }),
};

const channel3 = z.tuple([z.number(), z.number(), z.number()]);

/**
 * One entry of `models:`. `source` is a shipped model's id (nanodet, centernet: nothing else to
 * say) or an ONNX file, FP32 or QDQ INT8, which then needs its `family` (the rest has defaults).
 */
export const modelEntrySchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'an id of letters, digits, _ . - (up to 64)'),
    source: z.string().min(1),
    family: z.enum(FAMILIES as [string, ...string[]]).optional(),
    /** `coco` (COCO-80 in its usual order) or the class names in the order the model emits them. */
    classes: z.union([z.literal('coco'), z.array(z.string().min(1)).min(1).max(10_000)]).default('coco'),
    input: z
      .strictObject({
        name: z.string().min(1).default('images'),
        size: z.int().min(32).max(4096),
        /** Per channel, in the model's channel order; default 0..1 input (x / 255), as YOLO and DETR exports take. */
        mean: channel3.default([0, 0, 0]),
        std: channel3.refine((s) => s.every((v) => v > 0), 'positive values').default([255, 255, 255]),
        bgr: z.boolean().default(false),
      })
      .optional(),
    /** The family's output names and parameters (defaults: the family's usual export). */
    head: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((m, ctx) => {
    const shipped = SHIPPED_MODELS[m.source];
    if (shipped) {
      for (const k of ['family', 'input'] as const)
        if (m[k] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k],
            input: m[k],
            message: `nothing (${m.source} is a shipped model: its ${k} is known)`,
          });
      return;
    }
    if (!m.family)
      ctx.addIssue({
        code: 'custom',
        path: ['family'],
        input: undefined,
        message: `one of ${FAMILIES.join(', ')} for the ONNX file ${m.source} (or a shipped model id as source: ${Object.keys(SHIPPED_MODELS).join(', ')})`,
      });
    if (!m.input)
      ctx.addIssue({
        code: 'custom',
        path: ['input'],
        input: undefined,
        message: `the model's input (at least size) for ${m.source}`,
      });
    if (m.family) {
      const r = headSchemas[m.family as keyof typeof headSchemas].safeParse(m.head, { reportInput: true });
      for (const issue of r.error?.issues ?? []) ctx.addIssue({ ...issue, path: ['head', ...issue.path] } as never);
    }
  });

export type ModelEntry = z.output<typeof modelEntrySchema>;

/** A model the daemon can load: what it is, and where its ONNX comes from. */
export interface ResolvedModel {
  spec: ModelSpec;
  /** A shipped model (its FP32 and INT8 files live in the model cache) or the user's ONNX file. */
  source: { kind: 'shipped'; name: string } | { kind: 'file'; path: string };
}

function headOf(family: string, raw: Record<string, unknown>): HeadSpec {
  switch (family) {
    case 'nanodet': {
      const h = headSchemas.nanodet.parse(raw);
      const cls = h.cls ?? h.strides.map((s) => `cls_s${s}`);
      const reg = h.reg ?? h.strides.map((s) => `reg_s${s}`);
      names(h.strides.length).parse(cls);
      names(h.strides.length).parse(reg);
      return { family: 'nanodet', strides: h.strides, regMax: h.reg_max, cls, reg };
    }
    case 'centernet': {
      const h = headSchemas.centernet.parse(raw);
      const base = { family: 'centernet', stride: h.stride, heatmap: h.heatmap, units: h.units } as const;
      return h.box === 'ltrb'
        ? { ...base, box: 'ltrb', distances: h.distances }
        : { ...base, box: 'size-offset', size: h.size, offset: h.offset, order: h.order };
    }
    case 'yolo': {
      const h = headSchemas.yolo.parse(raw);
      if (h.format === 'decoded') return { family: 'yolo', format: 'decoded', output: h.output, strides: h.strides };
      const box = h.box ?? h.strides.map((s) => `box_s${s}`);
      const cls = h.cls ?? h.strides.map((s) => `cls_s${s}`);
      return { family: 'yolo', format: 'raw', strides: h.strides, regMax: h.reg_max, box, cls };
    }
    default: {
      const h = headSchemas.detr.parse(raw);
      return { family: 'detr', logits: h.logits, boxes: h.boxes, scores: h.scores };
    }
  }
}

/** A validated `models:` entry as a model the daemon loads. */
export function resolveEntry(m: ModelEntry): ResolvedModel {
  const shipped = SHIPPED_MODELS[m.source];
  if (shipped) return { spec: { ...shipped, id: m.id }, source: { kind: 'shipped', name: m.source } };
  const i = m.input!;
  const input: InputSpec = {
    name: i.name,
    size: i.size,
    normalize: { mean: i.mean, std: i.std, bgr: i.bgr },
    resize: 'letterbox',
  };
  const classes = m.classes === 'coco' ? COCO_LABELS : m.classes;
  return {
    spec: { id: m.id, input, head: headOf(m.family!, m.head), classes },
    source: { kind: 'file', path: m.source },
  };
}

/**
 * Every model a config can name, by id: the shipped ones under their own ids, then `models:`
 * (an entry may reuse a shipped id to change nothing but its id's meaning).
 */
export function modelCatalog(entries: readonly ModelEntry[]): Map<string, ResolvedModel> {
  const out = new Map<string, ResolvedModel>();
  for (const [name, spec] of Object.entries(SHIPPED_MODELS)) out.set(name, { spec, source: { kind: 'shipped', name } });
  for (const m of entries) out.set(m.id, resolveEntry(m));
  return out;
}
