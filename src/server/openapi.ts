// The HTTP API described for clients (OpenAPI 3.1), served at GET /api/openapi.json. A test
// checks that every route the server registers is described here, and nothing else.

const bearer = [{ bearer: [] }, { cookie: [] }];
const error = { $ref: '#/components/responses/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const query = (name: string, schema: object, description: string) => ({
  name,
  in: 'query',
  required: false,
  schema,
  description,
});
const path = (name: string, schema: object) => ({ name, in: 'path', required: true, schema });
// Ids and counts: plain decimal digits only ('0x10', '1e3', '05', ' 5' are 400).
const id = { type: 'integer', minimum: 1, description: 'plain decimal digits' };

const zoneEvent = {
  type: 'object',
  required: [
    'id',
    'camera',
    'type',
    'zone',
    'direction',
    'trackId',
    'classId',
    'label',
    'startedAt',
    'endedAt',
    'bestScore',
    'bestBox',
    'bestSeq',
    'frames',
    'snapshot',
    'clip',
  ],
  properties: {
    id: { type: 'integer' },
    camera: { type: 'string' },
    type: { enum: ['zone', 'line'], description: 'in a zone (entry to exit), or across a line (an instant)' },
    zone: { type: 'string', description: "the zone's or line's id" },
    direction: {
      enum: ['left_to_right', 'right_to_left', null],
      description: "line events: the way across, seen from the line's first point to its second",
    },
    trackId: { type: 'integer', description: "the object's track on its camera" },
    classId: { type: 'integer', description: 'COCO-80 class index' },
    label: { type: 'string' },
    startedAt: { type: 'string', format: 'date-time', description: 'entry into the zone, after its dwell' },
    endedAt: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'exit, or the end of the track; null while open',
    },
    bestScore: { type: 'number' },
    bestBox: {
      type: 'object',
      properties: { x1: { type: 'number' }, y1: { type: 'number' }, x2: { type: 'number' }, y2: { type: 'number' } },
    },
    bestSeq: { type: 'integer', description: 'the frame of the best score' },
    frames: { type: 'integer', description: 'detector runs that saw it inside' },
    snapshot: {
      type: ['object', 'null'],
      description: 'JPEG of the best-scored frame the camera still held',
      properties: {
        url: { type: 'string' },
        seq: { type: 'integer' },
        score: { type: 'number' },
        box: { type: 'object' },
        width: { type: 'integer' },
        height: { type: 'integer' },
        bytes: { type: 'integer' },
      },
    },
    clip: {
      type: ['object', 'null'],
      description: 'MP4 of the camera around the event (pre- and post-roll); null until the post-roll is recorded',
      properties: {
        url: { type: 'string' },
        durationMs: { type: 'integer' },
        startedAt: { type: 'string', format: 'date-time' },
        packets: { type: 'integer' },
        bytes: { type: 'integer' },
      },
    },
  },
};

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'Vigil',
    version: '1',
    description:
      "Edge video analytics: cameras, detections, events. Every route but POST /api/login (and the browser app's files) needs a session (cookie) or a bearer token: without one, every path, a route or not, answers 401. To a viewer, a camera that is not theirs does not exist (404). A 500 says only 'Internal error'; the daemon's log has the cause. The live WebSocket (/api/live) follows the user's rights while open: it closes with 4001 when the user is deleted, 4002 on logout, 4003 when the session expires, 4004 when the password or role changes; a viewer whose cameras are narrowed gets `unsubscribed` for each camera taken away, then a new hello. To a viewer, a camera not theirs is `unknown_camera` there too.",
  },
  security: bearer,
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      cookie: { type: 'apiKey', in: 'cookie', name: 'vigil_session' },
    },
    responses: {
      Error: {
        description: 'what is wrong',
        ...json({ type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } }),
      },
      TooManyLogins: {
        description:
          'too many failed logins for this user from this address (IPv6: its /64), or for this user from anywhere (not applied to an address the user logged in from within auth.known_address_days, nor to loopback): retry after Retry-After seconds',
        headers: { 'Retry-After': { schema: { type: 'integer' } } },
        ...json({ type: 'object', properties: { error: { const: 'too_many_requests' }, message: { type: 'string' } } }),
      },
    },
    schemas: { ZoneEvent: zoneEvent },
  },
  paths: {
    '/api/login': {
      post: {
        summary: 'Log in: a session cookie and a bearer token',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['user', 'password'],
          properties: { user: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: {
          200: { description: 'logged in' },
          400: error,
          401: error,
          429: { $ref: '#/components/responses/TooManyLogins' },
        },
      },
    },
    '/api/logout': {
      post: {
        summary: 'End this session (its live sockets close with 4002)',
        responses: { 200: { description: 'logged out' } },
      },
    },
    '/api/me': {
      get: { summary: 'The logged-in user', responses: { 200: { description: 'name, role, cameras' }, 401: error } },
    },
    '/api/users': { get: { summary: 'Users (admin)', responses: { 200: { description: 'the users' }, 403: error } } },
    '/api/users/{name}': {
      put: {
        summary:
          "Create or change a user (admin). A new password or role ends the user's sessions (live sockets close with 4004); the same password and role with other cameras keeps them, and live sockets lose the cameras taken away",
        parameters: [path('name', { type: 'string' })],
        requestBody: json({
          type: 'object',
          properties: {
            password: { type: 'string', minLength: 8 },
            role: { enum: ['admin', 'viewer'] },
            cameras: { type: ['array', 'null'], items: { type: 'string' } },
          },
        }),
        responses: { 200: { description: 'the user' }, 400: error, 403: error },
      },
      delete: {
        summary: 'Delete a user and end their sessions (admin; live sockets close with 4001)',
        parameters: [path('name', { type: 'string' })],
        responses: { 200: { description: 'deleted' }, 403: error, 404: error },
      },
    },
    '/api/health': {
      get: { summary: 'Cameras, detector, batching, MQTT, live view', responses: { 200: { description: 'health' } } },
    },
    '/api/models': {
      get: {
        summary: 'Each loaded detector model: family, health, and the cameras this user may see that use it',
        responses: { 200: { description: '{ models }' } },
      },
    },
    '/api/models/{id}/calibration': {
      get: {
        summary: "The model's calibration report (method, per-tensor ranges, layers kept FP32, INT8 vs FP32)",
        parameters: [path('id', { type: 'string' })],
        responses: { 200: { description: 'the report' }, 404: error },
      },
    },
    '/api/budget-events': {
      get: {
        summary: 'Latency budget breaches and recoveries, newest first',
        parameters: [
          query('camera', { type: 'string' }, 'one camera'),
          query('limit', { ...id, maximum: 1000 }, 'at most this many'),
        ],
        responses: { 200: { description: '{ events }' }, 400: error, 404: error },
      },
    },
    '/api/events': {
      get: {
        summary: 'Zone and line events of the cameras this user may see, newest first',
        parameters: [
          query('camera', { type: 'string' }, 'one camera'),
          query('type', { enum: ['zone', 'line'] }, 'zone or line events'),
          query('zone', { type: 'string' }, 'one zone or line'),
          query('label', { type: 'string' }, 'one class (COCO name)'),
          query('from', { type: 'string', format: 'date-time' }, 'started at or after'),
          query('to', { type: 'string', format: 'date-time' }, 'started before'),
          query('before', id, "paging: the previous page's `next`"),
          query('limit', { ...id, maximum: 1000, default: 100 }, 'page size'),
        ],
        responses: {
          200: {
            description: 'a page',
            ...json({
              type: 'object',
              properties: {
                events: { type: 'array', items: { $ref: '#/components/schemas/ZoneEvent' } },
                next: { type: ['integer', 'null'] },
              },
            }),
          },
          400: error,
          404: error,
        },
      },
    },
    '/api/events/{id}': {
      get: {
        summary: 'One event',
        parameters: [path('id', id)],
        responses: {
          200: { description: 'the event', ...json({ $ref: '#/components/schemas/ZoneEvent' }) },
          400: error,
          404: error,
        },
      },
      delete: {
        summary: 'Delete an event with its snapshot and clip (admin)',
        parameters: [path('id', id)],
        responses: { 204: { description: 'deleted' }, 400: error, 403: error, 404: error },
      },
    },
    '/api/events/{id}/snapshot.jpg': {
      get: {
        summary: "The event's snapshot",
        parameters: [path('id', id)],
        responses: { 200: { description: 'image/jpeg' }, 400: error, 404: error },
      },
    },
    '/api/events/{id}/clip.mp4': {
      get: {
        summary: "The event's clip (byte ranges for seeking)",
        parameters: [path('id', id)],
        responses: { 200: { description: 'video/mp4' }, 206: { description: 'a byte range' }, 400: error, 404: error },
      },
    },
    '/api/cameras/{id}/snapshot.jpg': {
      get: {
        summary: "The camera's newest frame as JPEG",
        parameters: [path('id', { type: 'string' }), query('quality', { ...id, maximum: 100 }, 'JPEG quality')],
        responses: { 200: { description: 'image/jpeg' }, 400: error, 404: error, 503: error },
      },
    },
    '/api/openapi.json': { get: { summary: 'This description', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/metrics': {
      get: { summary: 'Prometheus metrics (admin)', responses: { 200: { description: 'text/plain' }, 403: error } },
    },
  },
} as const;
