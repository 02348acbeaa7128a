import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs';

/**
 * A TF.js graph model read from its model.json and weight files, on the pure-JS CPU backend
 * (@tensorflow/tfjs has no file:// loader in Node): the reference an imported ONNX is held to.
 */
export async function loadTfjsModel(modelJson: string): Promise<tf.GraphModel> {
  await tf.setBackend('cpu');
  const spec = JSON.parse(readFileSync(modelJson, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
    signature: object;
  };
  const bin = Buffer.concat(
    spec.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(join(dirname(modelJson), p))),
  );
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: spec.modelTopology,
      weightSpecs: spec.weightsManifest.flatMap((g) => g.weights),
      weightData: new Uint8Array(bin).buffer,
      format: 'graph-model',
      signature: spec.signature,
    }),
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Expected ${a.length} values but received ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
