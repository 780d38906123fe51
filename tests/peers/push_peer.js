'use strict';
/*
 * ftpush push peer: a fast local stand-in for APNs, FCM (with its OAuth token
 * endpoint) and a webhook receiver, for the contract tests, the throughput bench
 * and the kill tests. Node 20, built-in modules only.
 *
 *   node push_peer.js --cert C --key K [--host 127.0.0.1] [--port 0] [--http-port 0]
 *                     [--knobs '{"maxConcurrentStreams": 100}']
 *
 * Prints one JSON line {"port": N, "httpPort": M} once both servers listen:
 * `port` is HTTP/2 over TLS (HTTP/1.1 allowed, for the OAuth client), `httpPort`
 * plain HTTP/1.1 (control endpoints, plain-http webhooks).
 *
 * Routes:
 *   POST /3/device/:token                APNs: checks the bearer JWT (ES256, kid, iss, iat;
 *                                        the signature too when the key is registered)
 *   POST /v1/projects/:p/messages:send   FCM: checks the access token issued by /token
 *   POST /token                          OAuth JWT-bearer grant (RS256 assertion)
 *   POST /webhook...                     webhook receiver (checks X-Ftpush-Signature when
 *                                        a webhookSecret is set)
 *   GET  /__stats[?keys=1]   POST /__reset   POST /__config (knobs as JSON)
 *
 * Behaviour by token prefix: dead → 410 Unregistered / 404 UNREGISTERED; bad → 400
 * BadDeviceToken / INVALID_ARGUMENT on message.token; topic → DeviceTokenNotForTopic /
 * SENDER_ID_MISMATCH; fail → a refusal that is none of the above; throttle → 429 with
 * Retry-After the first time its key is seen; boom → 500 the first time; slow → answers
 * after slowMs. A key is the apns-collapse-id, the Android notification tag, or the
 * webhook body's key; a delivery is a complete, valid request the peer accepted (answered
 * or about to be answered 200), counted when accepted.
 */
const http = require('node:http');
const http2 = require('node:http2');
const crypto = require('node:crypto');
const fs = require('node:fs');

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants;
const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

function parseArgs(argv) {
  const args = { host: '127.0.0.1', port: 0, httpPort: 0, knobs: {} };
  for (let i = 2; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (name === '--cert') args.cert = value;
    else if (name === '--key') args.key = value;
    else if (name === '--host') args.host = value;
    else if (name === '--port') args.port = Number(value);
    else if (name === '--http-port') args.httpPort = Number(value);
    else if (name === '--knobs') args.knobs = JSON.parse(value);
    else throw new Error(`unknown argument ${name}`);
  }
  return args;
}

const DEFAULT_KNOBS = {
  maxConcurrentStreams: 1000, // SETTINGS_MAX_CONCURRENT_STREAMS of new and live sessions
  goawayAfter: 0, // GOAWAY a session after it handled this many requests (0: never)
  latencyMs: 0, // added to every answer
  slowMs: 2000, // answer delay of `slow…` tokens
  retryAfter: 1, // seconds, on 429
  tokenExpiresIn: 3600, // lifetime of issued access tokens
  webhookSecret: null, // check X-Ftpush-Signature when set
  requireKnownKeys: false, // refuse JWTs whose key was not registered
};
const args = parseArgs(process.argv);
const startKnobs = { ...DEFAULT_KNOBS, ...args.knobs };
const keys = { apns: new Map(), fcm: new Map() }; // registered public keys survive reset
const sessions = new Set();
let knobs, stats, attempts, deliveries, issued, jwtCache, counter;

function reset() {
  knobs = { ...startKnobs };
  stats = {
    requests: 0, apns: 0, fcm: 0, token: 0, webhook: 0, statuses: {}, deliveries: 0,
    refused: 0, goaways: 0, sessions: 0, maxInFlight: 0, jwtCount: 0, jwtIssuedAt: [],
    accessTokensIssued: 0, errors: [], firstDeliveryAt: null, lastDeliveryAt: null,
  };
  attempts = new Map();
  deliveries = new Map();
  issued = new Map();
  jwtCache = new Map();
  counter = 0;
}

function note(message) {
  if (stats.errors.length < 50) stats.errors.push(message);
}

function configure(body) {
  for (const [name, value] of Object.entries(body)) {
    if (name === 'apnsKeys' || name === 'fcmKeys') {
      const map = name === 'apnsKeys' ? keys.apns : keys.fcm;
      for (const [id, pem] of Object.entries(value)) map.set(id, crypto.createPublicKey(pem));
    } else if (name in DEFAULT_KNOBS) {
      knobs[name] = value;
    } else {
      throw new Error(`unknown knob ${name}`);
    }
  }
  tlsServer.updateSettings({ maxConcurrentStreams: knobs.maxConcurrentStreams });
  for (const session of sessions) {
    if (!session.destroyed && !session.closed) {
      session.settings({ maxConcurrentStreams: knobs.maxConcurrentStreams });
    }
  }
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

// The APNs provider token: null when acceptable, else the APNs reason.
function checkApnsJwt(jwt) {
  const cached = jwtCache.get(jwt);
  if (cached !== undefined) return cached;
  let verdict = null;
  try {
    const [h, p, s] = jwt.split('.');
    const header = b64json(h);
    const claims = b64json(p);
    if (header.alg !== 'ES256' || typeof header.kid !== 'string' || header.kid.length !== 10) {
      throw new Error(`bad JWT header ${JSON.stringify(header)}`);
    }
    if (typeof claims.iss !== 'string' || claims.iss.length !== 10 || !Number.isInteger(claims.iat)) {
      throw new Error(`bad JWT claims ${JSON.stringify(claims)}`);
    }
    const key = keys.apns.get(header.kid);
    if (key) {
      const signature = Buffer.from(s, 'base64url');
      const ok = signature.length === 64 && crypto.verify(
        'sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, signature);
      if (!ok) throw new Error(`bad JWT signature for kid ${header.kid}`);
    } else if (knobs.requireKnownKeys) {
      throw new Error(`unknown kid ${header.kid}`);
    }
    stats.jwtCount += 1;
    stats.jwtIssuedAt.push(claims.iat);
  } catch (error) {
    note(`apns: ${error.message}`);
    verdict = 'InvalidProviderToken';
  }
  if (jwtCache.size > 10000) jwtCache.clear();
  jwtCache.set(jwt, verdict);
  return verdict;
}

// What a token asks for; throttle and boom only the first time their key is seen.
function behaviour(token, key) {
  const seen = attempts.get(key) || 0;
  attempts.set(key, seen + 1);
  for (const word of ['dead', 'bad', 'topic', 'fail']) if (token.startsWith(word)) return word;
  if (token.startsWith('throttle') && seen === 0) return 'throttle';
  if (token.startsWith('boom') && seen === 0) return 'boom';
  return 'ok';
}

function delayFor(token) {
  return knobs.latencyMs + (token.startsWith('slow') ? knobs.slowMs : 0);
}

function json(status, body, headers = {}) {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

const APNS = {
  dead: [410, 'Unregistered'], bad: [400, 'BadDeviceToken'], topic: [400, 'DeviceTokenNotForTopic'],
  fail: [400, 'TopicDisallowed'], throttle: [429, 'TooManyRequests'], boom: [500, 'InternalServerError'],
};

function apns(req, path, body) {
  stats.apns += 1;
  const token = decodeURIComponent(path.slice('/3/device/'.length));
  const h = req.headers;
  const refuse = (status, reason) => {
    note(`apns ${token}: ${reason}`);
    return json(status, { reason });
  };
  const auth = h.authorization || '';
  if (!auth.startsWith('bearer ')) return refuse(403, 'MissingProviderToken');
  const jwtVerdict = checkApnsJwt(auth.slice(7));
  if (jwtVerdict) return json(403, { reason: jwtVerdict });
  if (!h['apns-topic']) return refuse(400, 'MissingTopic');
  if (h['apns-push-type'] !== 'alert') return refuse(400, 'InvalidPushType');
  if (!['1', '5', '10'].includes(h['apns-priority'] || '10')) return refuse(400, 'BadPriority');
  if (h['apns-expiration'] !== undefined && !/^\d+$/.test(h['apns-expiration'])) {
    return refuse(400, 'BadExpirationDate');
  }
  const key = h['apns-collapse-id'] || token;
  if (Buffer.byteLength(key) > 64) return refuse(400, 'BadCollapseId');
  if (body.length > 4096) return refuse(413, 'PayloadTooLarge');
  let payload;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse(400, 'BadPayload');
  }
  if (!payload.aps || !payload.aps.alert || typeof payload.aps.alert.body !== 'string') {
    return refuse(400, 'PayloadEmpty');
  }
  const what = behaviour(token, key);
  const apnsId = h['apns-id'] || crypto.randomUUID();
  if (what !== 'ok') {
    const [status, reason] = APNS[what];
    const extra = what === 'throttle' ? { 'retry-after': String(knobs.retryAfter) } : {};
    const answer = json(status, what === 'dead' ? { reason, timestamp: Date.now() } : { reason },
      { 'apns-id': apnsId, ...extra });
    return { ...answer, delay: delayFor(token) };
  }
  return { status: 200, headers: { 'apns-id': apnsId }, body: '', key, delay: delayFor(token) };
}

function fcmError(status, code, statusWord, message, extraDetails = [], headers = {}) {
  const details = [{ '@type': FCM_ERROR, errorCode: code }, ...extraDetails];
  return json(status, { error: { code: status, message, status: statusWord, details } }, headers);
}

function fcm(req, path, body) {
  stats.fcm += 1;
  const auth = req.headers.authorization || '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  const expires = issued.get(token);
  if (!expires || expires < Date.now()) {
    return json(401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
  }
  let message;
  try {
    message = JSON.parse(body.toString('utf8')).message;
  } catch {
    message = undefined;
  }
  const bad = (why) => {
    note(`fcm: ${why}`);
    return fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', why);
  };
  if (!message || typeof message.token !== 'string') return bad('message.token missing');
  if (!message.notification || typeof message.notification.body !== 'string') return bad('notification.body missing');
  if (message.data && Object.values(message.data).some((v) => typeof v !== 'string')) return bad('data values must be strings');
  const tag = message.android && message.android.notification && message.android.notification.tag;
  const key = tag || message.token;
  const what = behaviour(message.token, key);
  const delay = delayFor(message.token);
  const answers = {
    dead: () => fcmError(404, 'UNREGISTERED', 'NOT_FOUND', 'Requested entity was not found.'),
    bad: () => fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT',
      'The registration token is not a valid FCM registration token',
      [{ '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] }]),
    topic: () => fcmError(403, 'SENDER_ID_MISMATCH', 'PERMISSION_DENIED', 'SenderId mismatch'),
    fail: () => fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', "Invalid value at 'message.android.ttl'",
      [{ '@type': 'type.googleapis.com/google.rpc.BadRequest',
        fieldViolations: [{ field: 'message.android.ttl', description: 'Invalid value' }] }]),
    throttle: () => fcmError(429, 'QUOTA_EXCEEDED', 'RESOURCE_EXHAUSTED', 'Quota exceeded.', [],
      { 'retry-after': String(knobs.retryAfter) }),
    boom: () => fcmError(500, 'INTERNAL', 'INTERNAL', 'Internal error encountered.'),
  };
  if (what !== 'ok') return { ...answers[what](), delay };
  counter += 1;
  const project = path.split('/')[3];
  return { ...json(200, { name: `projects/${project}/messages/${counter}` }), key, delay };
}

function oauthToken(req, body) {
  stats.token += 1;
  const form = new URLSearchParams(body.toString('utf8'));
  const grantError = (why) => {
    note(`token: ${why}`);
    return json(400, { error: 'invalid_grant', error_description: why });
  };
  if (form.get('grant_type') !== JWT_BEARER) return grantError(`grant_type ${form.get('grant_type')}`);
  const assertion = form.get('assertion') || '';
  let claims;
  try {
    const [h, p, s] = assertion.split('.');
    const header = b64json(h);
    claims = b64json(p);
    if (header.alg !== 'RS256') return grantError(`alg ${header.alg}`);
    if (typeof claims.iss !== 'string' || !String(claims.scope).split(' ').includes(FCM_SCOPE)) {
      return grantError(`claims ${JSON.stringify(claims)}`);
    }
    if (typeof claims.aud !== 'string' || !claims.aud.endsWith('/token')) return grantError(`aud ${claims.aud}`);
    if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp) || claims.exp <= claims.iat) {
      return grantError('iat/exp');
    }
    if (claims.iss.startsWith('revoked')) {
      return json(400, { error: 'invalid_grant', error_description: 'Invalid grant: account not found' });
    }
    const key = keys.fcm.get(claims.iss);
    if (key) {
      if (!crypto.verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) {
        return grantError('bad assertion signature');
      }
    } else if (knobs.requireKnownKeys) {
      return grantError(`unknown service account ${claims.iss}`);
    }
  } catch (error) {
    return grantError(`unreadable assertion: ${error.message}`);
  }
  const accessToken = `ya29.peer-${crypto.randomBytes(12).toString('hex')}`;
  issued.set(accessToken, Date.now() + knobs.tokenExpiresIn * 1000);
  stats.accessTokensIssued += 1;
  return json(200, { access_token: accessToken, expires_in: knobs.tokenExpiresIn, token_type: 'Bearer' });
}

function webhook(req, body) {
  stats.webhook += 1;
  if (knobs.webhookSecret) {
    const expected = `sha256=${crypto.createHmac('sha256', knobs.webhookSecret).update(body).digest('hex')}`;
    if (req.headers['x-ftpush-signature'] !== expected) {
      note('webhook: bad signature');
      return json(401, { error: 'bad signature' });
    }
  }
  let message;
  try {
    message = JSON.parse(body.toString('utf8'));
  } catch {
    note('webhook: body is not JSON');
    return json(400, { error: 'not json' });
  }
  const token = String(message.token || '');
  const key = String(message.key || token);
  const what = behaviour(token, key);
  const delay = delayFor(token);
  const statuses = { dead: 410, bad: 400, topic: 400, fail: 422, throttle: 429, boom: 500 };
  if (what !== 'ok') {
    const extra = what === 'throttle' ? { 'retry-after': String(knobs.retryAfter) } : {};
    return { ...json(statuses[what], { error: what }, extra), delay };
  }
  counter += 1;
  return { ...json(200, { id: `wh-${counter}` }), key, delay };
}

function statsBody(withKeys) {
  const duplicateKeys = [];
  let duplicates = 0;
  for (const [key, count] of deliveries) {
    if (count > 1) {
      duplicates += count - 1;
      if (duplicateKeys.length < 100) duplicateKeys.push(key);
    }
  }
  const body = { ...stats, distinctKeys: deliveries.size, duplicates, duplicateKeys, knobs };
  if (withKeys) body.keys = Object.fromEntries(deliveries);
  return body;
}

function control(req, path, url, body) {
  if (path === '/__stats') return json(200, statsBody(url.includes('keys=1')));
  if (path === '/__reset' && req.method === 'POST') {
    reset();
    configure({});
    return json(200, { ok: true });
  }
  if (path === '/__config' && req.method === 'POST') {
    try {
      configure(JSON.parse(body.toString('utf8') || '{}'));
    } catch (error) {
      return json(400, { error: error.message });
    }
    return json(200, { knobs });
  }
  if (path === '/__health') return json(200, { ok: true });
  return json(404, { error: 'no such control endpoint' });
}

function route(req, body) {
  const url = req.url;
  const path = url.split('?')[0];
  if (path.startsWith('/__')) return control(req, path, url, body);
  stats.requests += 1;
  if (req.method === 'POST' && path.startsWith('/3/device/')) return apns(req, path, body);
  if (req.method === 'POST' && /^\/v1\/projects\/[^/]+\/messages:send$/.test(path)) return fcm(req, path, body);
  if (req.method === 'POST' && path === '/token') return oauthToken(req, body);
  if (req.method === 'POST' && path.startsWith('/webhook')) return webhook(req, body);
  note(`no route for ${req.method} ${path}`);
  return json(404, { error: 'not found' });
}

function onRequest(req, res) {
  const stream = req.httpVersionMajor === 2 ? req.stream : null;
  const session = stream ? stream.session : null;
  const state = session ? session.peerState : null;
  const isControl = req.url.startsWith('/__');
  if (state && !isControl) {
    // Past our own GOAWAY: never process, so the client may safely send it again.
    if (state.goawayId !== null && stream.id > state.goawayId) {
      stats.refused += 1;
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    state.handled += 1;
    if (knobs.goawayAfter > 0 && state.handled >= knobs.goawayAfter && state.goawayId === null) {
      state.goawayId = stream.id;
      stats.goaways += 1;
      session.goaway(NGHTTP2_NO_ERROR, stream.id);
    }
    state.inflight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, state.inflight);
  }
  const chunks = [];
  let aborted = false;
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('aborted', () => { aborted = true; });
  req.on('error', () => {});
  res.on('error', () => {});
  req.on('end', () => {
    if (aborted || (stream && stream.destroyed)) {
      // The client reset the stream or dropped the connection: nothing was asked.
      if (state && !isControl) state.inflight -= 1;
      return;
    }
    const answer = route(req, Buffer.concat(chunks));
    if (!isControl) stats.statuses[answer.status] = (stats.statuses[answer.status] || 0) + 1;
    if (answer.status === 200 && answer.key !== undefined) {
      // Accepted is delivered, as with the real services: the device gets the push even
      // if the sender dies before it reads the answer (the duplicate window).
      stats.deliveries += 1;
      const now = Date.now(); // epoch ms: benches compare it with their own clock
      if (stats.firstDeliveryAt === null) stats.firstDeliveryAt = now;
      stats.lastDeliveryAt = now;
      deliveries.set(answer.key, (deliveries.get(answer.key) || 0) + 1);
    }
    const send = () => {
      if (state && !isControl) state.inflight -= 1;
      const gone = res.destroyed || (stream && stream.destroyed);
      if (!gone) {
        try {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        } catch (error) {
          note(`respond: ${error.message}`);
        }
      }
      if (state && state.goawayId !== null && state.inflight === 0 && !session.closed) session.close();
    };
    if (answer.delay > 0) setTimeout(send, answer.delay);
    else send();
  });
}

reset();
const tlsServer = http2.createSecureServer({
  key: fs.readFileSync(args.key),
  cert: fs.readFileSync(args.cert),
  allowHTTP1: true,
  settings: { maxConcurrentStreams: knobs.maxConcurrentStreams },
}, onRequest);
tlsServer.on('session', (session) => {
  session.peerState = { handled: 0, inflight: 0, goawayId: null };
  sessions.add(session);
  stats.sessions += 1;
  session.on('close', () => sessions.delete(session));
  session.on('error', () => {});
});
tlsServer.on('sessionError', () => {});
tlsServer.on('tlsClientError', () => {});
const plainServer = http.createServer(onRequest);
plainServer.on('clientError', (_error, socket) => socket.destroy());

process.on('SIGTERM', () => process.exit(0));
process.on('uncaughtException', (error) => {
  process.stderr.write(`push peer: ${error.stack}\n`);
  note(`uncaught: ${error.message}`);
});

tlsServer.listen(args.port, args.host, () => {
  plainServer.listen(args.httpPort, args.host, () => {
    process.stdout.write(`${JSON.stringify({ port: tlsServer.address().port, httpPort: plainServer.address().port })}\n`);
  });
});
