/**
 * The whole typed surface of the native addon (native/src/binding). Nothing outside
 * src/native/ imports the .node file; everything else codes against these types.
 * Stamps are monotonic microseconds on the same clock as process.hrtime (CLOCK_MONOTONIC).
 */
import type { GpuProgram } from '../model/int8/program.js';

/** How a source is opened; shared by cameras and probe. */
export interface SourceOptions {
  /** rtsp://user:pass@host/path, or a file path (mp4, mkv, avi, ts). */
  url: string;
  /** RTSP lower transport. Default 'tcp'. */
  transport?: 'tcp' | 'udp';
  /** Open and every read: no data for this long ends the session with reason 'timeout'. Default 5000. */
  timeoutMs?: number;
  /** Files: deliver packets at the stream's own pace (a camera stand-in). Default false. */
  realtime?: boolean;
  /**
   * Protocols libavformat may open beyond the URL's own (rtsp → rtsp, rtp, udp, tcp; rtsps → +
   * tls; a file → file): its scheme when another (http...), and what its stream refers to (an
   * HLS playlist's segments). Nothing else is opened. Default none.
   */
  protocols?: Array<'http' | 'https' | 'udp' | 'rtp' | 'tcp' | 'tls' | 'srt' | 'rtmp' | 'rtmps'>;
}

export interface CameraOptions extends SourceOptions {
  /** Files: start again at the end instead of ending the session. */
  loop?: boolean;
  /**
   * 'auto': NVDEC when this FFmpeg and machine have it (frames stay in GPU memory), else
   * software with the reason in `decoder`; 'software': libavcodec on the CPU; 'nvdec': NVDEC or
   * a session error saying why not.
   */
  decoder?: 'auto' | 'software' | 'nvdec';
  /** Software decode threads; 0 lets libavcodec choose. */
  decodeThreads?: number;
  /**
   * Each packet's frame out before the next packet (slice threads only): what a live camera
   * wants. Default false: frame threads, the most frames per second, threads−1 frames later.
   */
  lowDelay?: boolean;
  /** Frame pool slots (2..64), allocated once per frame size. Default 4. */
  poolSlots?: number;
  /** Bound of the event queue to JS (video fragments: twice this); a full queue drops events and counts them. Default 32. */
  queueSize?: number;
  /**
   * Video for browsers as fragmented MP4 (`video` events, one fragment per packet): H.264
   * passes through (remuxed, no re-encoding); other codecs are re-encoded to H.264 from the
   * decoded frames (NVENC where the GPU has one, else libx264). When the queue to JS is full a
   * fragment is dropped and the stream skips to the next keyframe (an encoder makes one at
   * once). Default false.
   */
  video?: boolean;
}

/** Why a session ended: expected outcomes, not exceptions. */
export type EndReason = 'eos' | 'timeout' | 'stopped' | 'error';

export interface OpenedEvent {
  type: 'opened';
  session: number;
  codec: string;
  decoder: string;
  hardware: boolean;
  format: string;
  width: number;
  height: number;
  fps: number;
  openMs: number;
  /** With CameraOptions.video: 'passthrough', 'transcode (libx264)' / 'transcode (h264_nvenc)', or why there is no video. */
  video?: string;
}

/** One packet remuxed to fMP4 (CameraOptions.video). */
export interface VideoEvent {
  type: 'video';
  session: number;
  /** The session's init segment (ftyp+moov), on its first fragment; a viewer needs it first. */
  init?: Buffer;
  /** With init: the MSE type, e.g. `video/mp4; codecs="avc1.64001f"`. */
  mime?: string;
  /** moof+mdat of this packet. */
  data: Buffer;
  keyframe: boolean;
  /** The same timeline as FrameEvent.ptsUs (the fMP4 timestamps are ptsUs at 90 kHz). */
  ptsUs: number;
  recvUs: number;
}

export interface FrameEvent {
  type: 'frame';
  session: number;
  /** +1 per frame published into the camera's pool, across sessions. */
  seq: number;
  /** Stream pts in the stream's time base; null when the stream has none. */
  pts: number | null;
  /** pts in microseconds on the session's continuous timeline (loops included). */
  ptsUs: number | null;
  recvUs: number;
  decodedUs: number;
  width: number;
  height: number;
  keyframe: boolean;
}

/** A failure that did not end the session (corrupt packets...), rate-limited with a count. */
export interface ErrorEvent {
  type: 'error';
  session: number;
  stage: string;
  message: string;
  count: number;
}

/** Always the last event of a session. */
export interface EndedEvent {
  type: 'ended';
  session: number;
  reason: EndReason;
  message: string;
}

export type CameraEvent = OpenedEvent | FrameEvent | VideoEvent | ErrorEvent | EndedEvent;

export interface CameraCounters {
  sessions: number;
  packets: number;
  bytes: number;
  framesDecoded: number;
  framesPublished: number;
  /** Packets the decoder rejected or met errors in (logged ones too: HEVC only logs), any codec. */
  decodeErrors: number;
  /** Frames the decoder flagged damaged, or decoded after a decode error until a clean keyframe. */
  corruptFrames: number;
  droppedPoolFull: number;
  droppedQueueFull: number;
  loops: number;
  videoFragments: number;
  videoDropped: number;
  /** Frames re-encoded to H.264 for browsers (streams that cannot pass through). */
  videoEncoded: number;
  poolAllocations: number;
  /** The session's frames stay in GPU memory (NVDEC). */
  gpuFrames: boolean;
  /** GPU frames copied to host memory, by consumer (0 on the GPU path's decode → letterbox). */
  hostCopies: { letterbox: number; snapshot: number; annotate: number; encode: number };
  /** What decodes the current session, e.g. "h264 (software, 3 threads)"; "" before the first. */
  decoder: string;
  /**
   * The live-view encoder when the session transcodes, with why not NVENC: "h264_nvenc (CUDA
   * frames)", "libx264 (h264_nvenc: …)"; "" when it passes through or is off.
   */
  encoder: string;
  /** The same for the annotated stream ("" before its first frame). */
  annotateEncoder: string;
}

export interface Snapshot {
  jpeg: Buffer;
  seq: number;
  ptsUs: number;
  decodedUs: number;
  width: number;
  height: number;
}

/** Pixel normalisation of a model input: out = (px - mean[c]) / std[c], channels RGB or BGR. */
export interface InputNorm {
  mean: [number, number, number];
  std: [number, number, number];
  bgr: boolean;
}

/** The frame a letterbox() call wrote into the tensor, and where it landed in it. */
export interface LetterboxResult {
  seq: number;
  ptsUs: number;
  recvUs: number;
  decodedUs: number;
  width: number;
  height: number;
  scale: number;
  padX: number;
  padY: number;
  /** Monotonic µs: the worker started, and finished writing the tensor. */
  startUs: number;
  doneUs: number;
}

/** One frame of a camera's annotated stream (boxes burned in, re-encoded to H.264 fMP4). */
export interface AnnotatedFragment {
  /** The stream's init segment: on its first frame, and again after a size change. */
  init?: Buffer;
  mime?: string;
  data: Buffer;
  keyframe: boolean;
  ptsUs: number;
  seq: number;
}

/** One camera in the addon: a frame pool and at most one running session (thread). */
export interface NativeCamera {
  /** Starts a session; returns its number. Throws InvalidStateError when closed or running. */
  open(): number;
  /** Aborts and joins the running session. Throws InvalidStateError when closed. */
  stop(): void;
  /** Stops and frees everything. Idempotent. */
  close(): void;
  stats(): CameraCounters;
  /**
   * JPEG of the newest decoded frame (or of frame `seq` while the pool still holds it), encoded
   * off the JS thread; null when there is no such frame.
   */
  snapshot(quality?: number, seq?: number): Promise<Snapshot | null>;
  /**
   * Writes the newest frame (if its seq ≥ minSeq) letterboxed into `dst` as a planar float
   * [3, size, size] model input, natively on a worker thread (libswscale; a CUDA kernel for an
   * NVDEC frame, which never leaves the GPU). `exact`: the frame with seq == minSeq, while the
   * pool still holds it. null when there is no such frame. dst must not be touched until the
   * promise settles.
   */
  /** dst: a host tensor, or a slot of a GPU input batch (an NVDEC frame is written there by the CUDA kernel, in place). */
  letterbox(
    dst: LetterboxTarget,
    size: number,
    norm: InputNorm,
    minSeq?: number,
    exact?: boolean,
  ): Promise<LetterboxResult | null>;
  /**
   * Burns the boxes of `records` (packed 24-byte detection records, src/protocol/binary.ts)
   * into the frame `seq` (while the pool still holds it) and encodes it as the next frame of
   * the annotated stream, on a worker thread. null when the frame is gone or not newer than
   * the last one annotated.
   */
  annotate(seq: number, records: Uint8Array): Promise<AnnotatedFragment | null>;
  readonly running: boolean;
  readonly closed: boolean;
}

export interface NativeCameraConstructor {
  new (options: CameraOptions, onEvent: (event: CameraEvent) => void): NativeCamera;
}

export interface ProbeResult {
  ok: boolean;
  status: 'ok' | 'timeout' | 'eos' | 'stopped' | 'error';
  error: string | null;
  format: string;
  codec: string;
  profile: string;
  decoder: string;
  width: number;
  height: number;
  fps: number;
  bitRate: number;
  openMs: number;
  firstFrameMs: number | null;
}

export interface BuildInfo {
  cuda: {
    built: boolean;
    toolkit: string | null;
    archs: string | null;
    devices: number;
    reason: string | null;
  };
  ffmpeg: { avformat: string; avcodec: string; avutil: string };
  /** nvdec: this FFmpeg has NVDEC (CUDA hwaccel) for H.264 or HEVC; it runs only where a GPU and driver are. */
  decoders: { h264: boolean; hevc: boolean; nvdec: boolean; nvdecCodecs: { h264: boolean; hevc: boolean } };
  /**
   * The TensorRT backend: compiled (against TensorRT's public headers, version `headers`), and
   * whether libnvinfer/libnvonnxparser load on this machine (dlopen) — else `reason`.
   */
  tensorrt: {
    compiled: boolean;
    headers: string | null;
    available: boolean;
    library: number | null;
    reason: string | null;
  };
}

export type LibavLogLevel = 'quiet' | 'fatal' | 'error' | 'warning' | 'info' | 'debug';

export interface NativeAddon {
  Camera: NativeCameraConstructor;
  probe(options: SourceOptions): Promise<ProbeResult>;
  /**
   * Rewrites a fragmented MP4 (an event clip as recorded) as a plain MP4 with its index first
   * and time from 0, without re-encoding, on a worker thread. Rejects with why, leaving no output.
   */
  remuxToMp4(
    input: string,
    output: string,
  ): Promise<{ packets: number; skipped: number; durationUs: number; startUs: number }>;
  buildInfo(): BuildInfo;
  /**
   * Sends a service-manager notification (sd_notify(3): "READY=1", "WATCHDOG=1", "STATUS=…",
   * "STOPPING=1") to $NOTIFY_SOCKET; false when there is none. Throws when sending failed.
   */
  sdNotify(state: string): boolean;
  /** The native DetectionRecord's size and field offsets (the protocol mirrors them). */
  detectionRecordLayout(): {
    bytes: number;
    x1: number;
    y1: number;
    x2: number;
    y2: number;
    score: number;
    classId: number;
    trackId: number;
  };
  setLibavLogLevel(level: LibavLogLevel): void;
  /** The TensorRT backend (src/detect/GpuDetector.ts): builds or loads the engine; rejects with the reason it cannot. */
  openTensorRt(options: {
    onnx: string;
    cacheDir: string;
    minBatch?: number;
    optBatch?: number;
    maxBatch?: number;
    inputSize: number;
    numClasses: number;
    regMax: number;
    scoreThreshold: number;
    iouThreshold: number;
    maxDetections: number;
  }): Promise<{ handle: GpuEngineHandle; maxBatch: number; cacheKey: string; builtNow: boolean; log: string[] }>;
  /**
   * The `cuda` backend: Vigil's own INT8 engine running a lowered program
   * (src/model/int8/program.ts); the handle goes to gpuEngineDetect like TensorRT's. Throws at
   * once, before any GPU is looked for, naming a wrong setting in `options` or what is wrong in
   * the program's shape; rejects without CUDA, a GPU, or with what the engine cannot run.
   */
  openInt8Engine(options: {
    program: GpuProgram;
    /** The engine's settings; the defaults where absent (what the daemon runs). */
    options?: Int8EngineOptions;
    maxBatch: number;
    inputSize: number;
    numClasses: number;
    regMax: number;
    scoreThreshold: number;
    iouThreshold: number;
    maxDetections: number;
  }): Promise<{ handle: GpuEngineHandle; maxBatch: number; cacheKey: string; builtNow: boolean; log: string[] }>;
  /** A GPU input batch for letterboxes to write into; throws without CUDA or a GPU. */
  createDeviceBatch(maxBatch: number, size: number): DeviceBatchHandle;
  /** One batch (a host tensor, or a GPU input batch the letterboxes wrote): packed 24-byte detection records per frame. */
  gpuEngineDetect(
    handle: GpuEngineHandle,
    input: Float32Array | DeviceBatchHandle,
    boxes: Array<{ scale: number; padX: number; padY: number; srcWidth: number; srcHeight: number }>,
  ): Promise<Uint8Array[]>;
}

/** A GPU input batch [maxBatch, 3, size, size] made by createDeviceBatch (opaque; freed when collected). */
export type DeviceBatchHandle = { readonly __deviceBatch: unique symbol };

/** Where a letterboxed frame goes: a host tensor, or a slot of a GPU input batch. */
export type LetterboxTarget = Float32Array | { batch: DeviceBatchHandle; slot: number };

/** An engine opened by openTensorRt or openInt8Engine (opaque; freed when collected). */
export type GpuEngineHandle = { readonly __gpuEngine: unique symbol };

/**
 * Settings of Vigil's INT8 engine (native/src/int8/Int8EngineOptions.h); each absent one its
 * default. Benches compare variants; the daemon passes none.
 */
export interface Int8EngineOptions {
  /** INT8 convolutions: 'mma' (tensor cores where the GPU has them, the default) or 'dp4a'. */
  kernel?: 'mma' | 'dp4a';
  /** FP32 layers no int8 code depends on: 'tf32x3' (tensor cores, the default) or 'exact' (ONNX Runtime's order). */
  float?: 'tf32x3' | 'exact';
  /** Independent ops side by side in the CUDA graphs (default true), or one stream. */
  branches?: boolean;
  /** The longer remaining path first in the graphs (stream priorities, default true). */
  priority?: boolean;
  /** 64-row INT8 tiles below this many 128-row blocks an SM (default 2; 0: never). */
  smallTiles?: number;
  /** Blocks an SM split-K aims for (default 0: 2 under batch 4, 1 from 4). */
  splitBlocks?: number;
  /** At least this many K splits a convolution (default 1). */
  minSplit?: number;
  /** Microseconds a wait for the GPU polls before it blocks (default 10000; 0: block at once). */
  spinUs?: number;
}
