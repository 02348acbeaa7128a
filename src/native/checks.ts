/**
 * The addon's `checks` export, typed apart from the production surface (types.ts): what tests,
 * benches and checks call and the frame path never does. Loaded with loadChecks() (addon.ts).
 */
import type { DeviceBatchHandle, GpuEngineHandle, NativeCamera } from './types.js';

/** checks.paintCheck(): the GPU box painter against the CPU one on the same frame. */
export interface PaintCheck {
  width: number;
  height: number;
  /** YUV420P bytes compared; bytes the boxes changed (CPU); bytes where GPU and CPU differ. */
  bytes: number;
  painted: number;
  mismatched: number;
}

/**
 * What the addon's program reader takes (native/src/binding/Int8ProgramReader.cpp): the codes of
 * native/src/int8/Int8Program.h by name, and each object's fields: true where the engine reads
 * it, false where it is JS's own and ignored.
 */
export interface Int8ProgramContract {
  opKinds: Record<string, number>;
  acts: Record<string, number>;
  epilogueOps: Record<string, number>;
  maxEpilogue: number;
  fields: Record<'program' | 'buffer' | 'view' | 'op' | 'pool' | 'epilogue' | 'output', Record<string, boolean>>;
}

export interface NativeChecks {
  /**
   * NanoDet head decode + NMS on the GPU from head outputs in JS memory: packed 24-byte detection
   * records and the candidate count before NMS. Throws without CUDA or without a usable GPU.
   */
  nanodetPostGpu(
    levels: Array<{ stride: number; cls: Float32Array; reg: Float32Array }>,
    params: {
      inputSize: number;
      numClasses: number;
      regMax: number;
      scoreThreshold: number;
      iouThreshold: number;
      maxDetections: number;
      scale: number;
      padX: number;
      padY: number;
      srcWidth: number;
      srcHeight: number;
    },
  ): { records: Uint8Array; candidates: number };
  /**
   * One INT8 engine convolution on the GPU from JS memory: NCHW int8 x, OIHW int8 w, int32 bias
   * at s_in·s_w, float multiplier per output channel, epilogue ops (0 requantize (arg: scale), 1
   * leaky (alpha), 2 relu, 3 sigmoid). Throws without CUDA or a GPU.
   */
  int8ConvGpu(layer: {
    C: number;
    H: number;
    W: number;
    O: number;
    Ho: number;
    Wo: number;
    kh: number;
    kw: number;
    sh: number;
    sw: number;
    pt: number;
    pl: number;
    dh: number;
    dw: number;
    group: number;
    x: Int8Array;
    w: Int8Array;
    bias: Int32Array | null;
    mult: Float32Array;
    epilogue: Array<{ op: number; arg: number }>;
    int8Out: boolean;
  }): Int8Array | Float32Array;
  /**
   * The INT8 engine alone: `iterations` runs of a batch, each run's GPU and wall milliseconds
   * (graphs false: each op launched, no graph); with `profile`, each op launched and timed alone
   * instead (mean ms per op).
   */
  int8EngineRun(
    handle: GpuEngineHandle,
    options: { input?: Float32Array; batch: number; iterations: number; graphs: boolean; profile?: boolean },
  ): Promise<{ gpuMs: Float64Array; wallMs: Float64Array; opMs: Float64Array }>;
  /** One image of an INT8 engine buffer after the last run, as stored (NHWC; int8 or float32 bytes). */
  int8EngineRead(handle: GpuEngineHandle, buffer: string, image: number): Uint8Array;
  /** The program contract the addon's reader holds src/model/int8/program.ts to. */
  int8ProgramContract(): Int8ProgramContract;
  /** Slots [first, first + count) of a GPU input batch, copied to the host. */
  deviceBatchRead(batch: DeviceBatchHandle, first: number, count: number): Float32Array;
  /**
   * GPU frames only (CUDA builds): paints `records` on the camera's frame `seq` on the GPU and on
   * the CPU and compares; null once the frame left the pool.
   */
  paintCheck(camera: NativeCamera, seq: number, records: Uint8Array): Promise<PaintCheck | null>;
}
