/**
 * Binary WebSocket messages (server → browser), little-endian. Shared by the daemon and ui/;
 * no dependencies. Every message starts with one 16-byte header:
 *
 *   0  u8   kind      1 init segment, 2 video fragment, 3 detections
 *   1  u8   flags     bit 0: keyframe (fragments); bit 1: the annotated stream (boxes burned
 *                     in, re-encoded), not the camera's own video (init, fragments)
 *   2  u16  camera    index into the hello message's camera list
 *   4  u32  session   the camera's session (a new one starts a new init segment)
 *   8  f64  ptsUs     the frame's pts in µs on the session timeline (fMP4 time × 1e6)
 *
 * init:       u16 mime length, mime (UTF-8), the init segment (ftyp+moov)
 * fragment:   moof+mdat of one packet
 * detections: u32 seq, u16 frame width, u16 frame height, u16 count, u16 reserved, then
 *             `count` records of DETECTION_RECORD_BYTES: f32 x1, y1, x2, y2 (frame pixels),
 *             f32 score, u16 class id (COCO-80), u16 track id (0 = none). The record mirrors the native
 *             DetectionRecord (native/src/core/DetectionRecord.h; a test compares them), so
 *             the daemon hands these bytes to the native overlay painter unchanged.
 */
export const MessageKind = { Init: 1, Fragment: 2, Detections: 3 } as const;
export const HEADER_BYTES = 16;
export const DETECTION_HEADER_BYTES = 12;
export const DETECTION_RECORD_BYTES = 24;
/** Byte offsets of a record's fields (the native DetectionRecord's). */
export const DETECTION_RECORD_OFFSETS = { x1: 0, y1: 4, x2: 8, y2: 12, score: 16, classId: 20, trackId: 22 } as const;
const R = DETECTION_RECORD_OFFSETS;
const FLAG_KEY = 1;
const FLAG_ANNOTATED = 2;

export interface Header {
  camera: number;
  session: number;
  ptsUs: number;
}

export interface BoxRecord {
  classId: number;
  /** The object's track on its camera (src/events/Tracker.ts); 0 or absent = none. Wraps at 65535. */
  trackId?: number | null;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export type BinaryMessage =
  | (Header & { kind: 'init'; annotated: boolean; mime: string; data: Uint8Array })
  | (Header & { kind: 'fragment'; annotated: boolean; keyframe: boolean; data: Uint8Array })
  | (Header & { kind: 'detections'; seq: number; width: number; height: number; boxes: BoxRecord[] });

function header(buf: Uint8Array, kind: number, flags: number, h: Header): DataView {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint8(0, kind);
  v.setUint8(1, flags);
  v.setUint16(2, h.camera, true);
  v.setUint32(4, h.session >>> 0, true);
  v.setFloat64(8, h.ptsUs, true);
  return v;
}

export function encodeInit(h: Header, mime: string, init: Uint8Array, annotated = false): Uint8Array {
  const m = new TextEncoder().encode(mime);
  const buf = new Uint8Array(HEADER_BYTES + 2 + m.length + init.length);
  header(buf, MessageKind.Init, annotated ? FLAG_ANNOTATED : 0, h).setUint16(HEADER_BYTES, m.length, true);
  buf.set(m, HEADER_BYTES + 2);
  buf.set(init, HEADER_BYTES + 2 + m.length);
  return buf;
}

export function encodeFragment(h: Header, keyframe: boolean, data: Uint8Array, annotated = false): Uint8Array {
  const buf = new Uint8Array(HEADER_BYTES + data.length);
  header(buf, MessageKind.Fragment, (keyframe ? FLAG_KEY : 0) | (annotated ? FLAG_ANNOTATED : 0), h);
  buf.set(data, HEADER_BYTES);
  return buf;
}

/** `boxes` as packed detection records (the layout above). */
export function encodeDetectionRecords(boxes: readonly BoxRecord[]): Uint8Array {
  const n = Math.min(boxes.length, 0xffff);
  const buf = new Uint8Array(n * DETECTION_RECORD_BYTES);
  const v = new DataView(buf.buffer);
  for (let i = 0; i < n; i++) {
    const b = boxes[i]!;
    const o = i * DETECTION_RECORD_BYTES;
    v.setFloat32(o + R.x1, b.x1, true);
    v.setFloat32(o + R.y1, b.y1, true);
    v.setFloat32(o + R.x2, b.x2, true);
    v.setFloat32(o + R.y2, b.y2, true);
    v.setFloat32(o + R.score, b.score, true);
    v.setUint16(o + R.classId, b.classId, true);
    v.setUint16(o + R.trackId, b.trackId ? ((b.trackId - 1) % 65535) + 1 : 0, true);
  }
  return buf;
}

export function encodeDetections(
  h: Header,
  frame: { seq: number; width: number; height: number },
  boxes: readonly BoxRecord[],
): Uint8Array {
  const records = encodeDetectionRecords(boxes);
  const buf = new Uint8Array(HEADER_BYTES + DETECTION_HEADER_BYTES + records.length);
  const v = header(buf, MessageKind.Detections, 0, h);
  v.setUint32(HEADER_BYTES, frame.seq >>> 0, true);
  v.setUint16(HEADER_BYTES + 4, frame.width, true);
  v.setUint16(HEADER_BYTES + 6, frame.height, true);
  v.setUint16(HEADER_BYTES + 8, records.length / DETECTION_RECORD_BYTES, true);
  buf.set(records, HEADER_BYTES + DETECTION_HEADER_BYTES);
  return buf;
}

/** The records of an encoded detections message (a view, no copy). */
export function detectionRecordsOf(message: Uint8Array): Uint8Array {
  return message.subarray(HEADER_BYTES + DETECTION_HEADER_BYTES);
}

/** Parses one binary message; throws an Error naming what is wrong with a malformed one. */
/** Packed 24-byte detection records (as the native side writes them) → boxes. */
export function decodeDetectionRecords(records: Uint8Array): BoxRecord[] {
  if (records.length % DETECTION_RECORD_BYTES !== 0)
    throw new Error(
      `Expected whole ${DETECTION_RECORD_BYTES}-byte detection records but received ${records.length} bytes`,
    );
  const v = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const boxes: BoxRecord[] = [];
  for (let o = 0; o < records.length; o += DETECTION_RECORD_BYTES) {
    boxes.push({
      x1: v.getFloat32(o + R.x1, true),
      y1: v.getFloat32(o + R.y1, true),
      x2: v.getFloat32(o + R.x2, true),
      y2: v.getFloat32(o + R.y2, true),
      score: v.getFloat32(o + R.score, true),
      classId: v.getUint16(o + R.classId, true),
      trackId: v.getUint16(o + R.trackId, true) || null,
    });
  }
  return boxes;
}

export function decodeBinary(input: ArrayBuffer | Uint8Array): BinaryMessage {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (buf.length < HEADER_BYTES)
    throw new Error(`Expected at least ${HEADER_BYTES} bytes for a binary message but received ${buf.length}`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const h: Header = { camera: v.getUint16(2, true), session: v.getUint32(4, true), ptsUs: v.getFloat64(8, true) };
  const kind = v.getUint8(0);
  const annotated = (v.getUint8(1) & FLAG_ANNOTATED) !== 0;
  if (kind === MessageKind.Init) {
    const len = v.getUint16(HEADER_BYTES, true);
    const start = HEADER_BYTES + 2;
    if (start + len > buf.length)
      throw new Error(`Expected ${len} bytes of mime type in an init message but received ${buf.length - start}`);
    return {
      kind: 'init',
      ...h,
      annotated,
      mime: new TextDecoder().decode(buf.subarray(start, start + len)),
      data: buf.subarray(start + len),
    };
  }
  if (kind === MessageKind.Fragment)
    return {
      kind: 'fragment',
      ...h,
      annotated,
      keyframe: (v.getUint8(1) & FLAG_KEY) !== 0,
      data: buf.subarray(HEADER_BYTES),
    };
  if (kind === MessageKind.Detections) {
    let o = HEADER_BYTES;
    if (buf.length < o + DETECTION_HEADER_BYTES) throw new Error('Expected a detection header but the message ended');
    const seq = v.getUint32(o, true);
    const width = v.getUint16(o + 4, true);
    const height = v.getUint16(o + 6, true);
    const n = v.getUint16(o + 8, true);
    o += DETECTION_HEADER_BYTES;
    if (buf.length !== o + n * DETECTION_RECORD_BYTES)
      throw new Error(
        `Expected ${n} detection records (${n * DETECTION_RECORD_BYTES} bytes) but received ${buf.length - o} bytes`,
      );
    return { kind: 'detections', ...h, seq, width, height, boxes: decodeDetectionRecords(buf.subarray(o)) };
  }
  throw new Error(`Expected message kind 1, 2 or 3 but received ${kind}`);
}
