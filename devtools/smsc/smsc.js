#!/usr/bin/env node
// SMSC simulator for Chainon's tests: an SMPP 3.4 server (node-smpp 0.5.1) on 127.0.0.1
// plus a small JSON control API (Node's http module) on another 127.0.0.1 port.
//
//   node devtools/smsc/smsc.js [--port N] [--control-port N] [--system-id ID] [--password PW]
//
// Environment: SMSC_PORT, SMSC_CONTROL_PORT (0 or unset = a free port), SMSC_SYSTEM_ID,
// SMSC_PASSWORD (unset or empty = any value accepted), SMSC_PDU_LOG=0 (no per-PDU stderr lines).
// The first stdout line is `LISTENING <smpp port> CONTROL <control port>`; nothing else is
// written to stdout. Every PDU is logged briefly to stderr. SIGTERM/SIGINT close every
// socket and exit 0; a startup error exits 1. The control API is described in README.md.
'use strict';

const http = require('http');
const crypto = require('crypto');
const smpp = require('smpp');

// ---------------------------------------------------------------------------------------
// node-smpp decodes short_message / message_payload into {udh, message} strings (and picks
// data_coding itself when encoding). The simulator wants the raw octets both ways, so those
// filters are removed: short_message and message_payload are plain Buffers here.
for (const command of ['submit_sm', 'deliver_sm', 'submit_multi', 'replace_sm']) {
  const param = smpp.commands[command].params.short_message;
  if (param) delete param.filter;
}
delete smpp.tlvs.message_payload.filter;

const ERRORS = smpp.errors; // name -> code
const ERROR_NAMES = {};
for (const [name, code] of Object.entries(ERRORS)) {
  if (!(code in ERROR_NAMES)) ERROR_NAMES[code] = name;
}

function statusName(code) {
  return ERROR_NAMES[code] || '0x' + code.toString(16).padStart(8, '0');
}

function parseStatus(value) {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    if (value in ERRORS) return ERRORS[value];
    if (/^0x[0-9a-f]+$/i.test(value)) return parseInt(value, 16);
  }
  throw new BadRequest(`unknown SMPP status ${JSON.stringify(value)}`);
}

class BadRequest extends Error {
  constructor(message, code = 400) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------
// GSM 03.38 default alphabet and extension table (unpacked: one septet per octet).
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = {
  0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\',
  0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€',
};
const GSM_ENCODE = new Map();
const GSM_EXT_ENCODE = new Map();
[...GSM_BASIC].forEach((ch, i) => {
  if (i !== 0x1b) GSM_ENCODE.set(ch, i);
});
for (const [code, ch] of Object.entries(GSM_EXTENSION)) GSM_EXT_ENCODE.set(ch, Number(code));
if ([...GSM_BASIC].length !== 128) throw new Error('GSM table must have 128 entries');

/** Text -> array of units, each an array of septets (1, or 2 for ESC + extension). */
function gsmUnits(text, strict) {
  const units = [];
  for (const ch of text) {
    if (GSM_ENCODE.has(ch)) units.push([GSM_ENCODE.get(ch)]);
    else if (GSM_EXT_ENCODE.has(ch)) units.push([0x1b, GSM_EXT_ENCODE.get(ch)]);
    else if (strict) throw new BadRequest(`character ${JSON.stringify(ch)} is not in GSM 03.38; use data_coding 8`);
    else units.push([GSM_ENCODE.get('?')]);
  }
  return units;
}

function gsmEncode(text, strict = false) {
  return Buffer.from(gsmUnits(text, strict).flat());
}

function gsmDecode(buffer) {
  let out = '';
  for (let i = 0; i < buffer.length; i++) {
    const septet = buffer[i] & 0x7f;
    if (septet === 0x1b && i + 1 < buffer.length) {
      const next = buffer[++i] & 0x7f;
      out += GSM_EXTENSION[next] !== undefined ? GSM_EXTENSION[next] : next === 0x1b ? ' ' : GSM_BASIC[next];
    } else if (septet === 0x1b) {
      out += ' ';
    } else {
      out += GSM_BASIC[septet];
    }
  }
  return out;
}

function ucs2Encode(text) {
  const le = Buffer.from(text, 'utf16le');
  return le.swap16();
}

function ucs2Decode(buffer) {
  const even = buffer.length - (buffer.length % 2);
  return Buffer.from(buffer.subarray(0, even)).swap16().toString('utf16le');
}

function decodeText(dataCoding, buffer) {
  if (!buffer || !buffer.length) return '';
  switch (dataCoding & 0x0f) {
    case 0x00:
      return gsmDecode(buffer);
    case 0x08:
      return ucs2Decode(buffer);
    case 0x01:
    case 0x03:
      return buffer.toString('latin1');
    default:
      return ''; // binary or an alphabet the simulator does not read
  }
}

// ---------------------------------------------------------------------------------------
// Configuration (POST /config), one-shot plans and counters.
const DEFAULTS = Object.freeze({
  receipt_delay_ms: 50,
  receipt_order: 'inorder',
  fail_ratio: 0,
  fail_stat: 'UNDELIV',
  fail_err: '034',
  fail_destinations: [],
  receipt_before_resp: false,
  duplicate_receipts: false,
  id_format: 'hex',
  receipt_id_format: 'same',
  tlv_receipts: true,
  text_fields: true,
  silent: false,
  throttle: { tps: 0 },
  resp_delay_ms: 0,
  no_resp: false,
  requeue_unacked: true,
  enquire_link_ms: 0,
  seed: null,
});

const ORDERS = ['inorder', 'reverse', 'random', 'shuffle'];
const STATES = {
  ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};

function isBool(v) { return typeof v === 'boolean'; }
function isNonNegNumber(v) { return typeof v === 'number' && Number.isFinite(v) && v >= 0; }
const VALIDATORS = {
  receipt_delay_ms: isNonNegNumber,
  receipt_order: (v) => ORDERS.includes(v),
  fail_ratio: (v) => isNonNegNumber(v) && v <= 1,
  fail_stat: (v) => v in STATES,
  fail_err: (v) => typeof v === 'string' && /^[0-9]{1,3}$/.test(v),
  fail_destinations: (v) => Array.isArray(v) && v.every((d) => typeof d === 'string'),
  receipt_before_resp: isBool,
  duplicate_receipts: isBool,
  id_format: (v) => ['hex', 'decimal', 'uuid'].includes(v),
  receipt_id_format: (v) => ['same', 'decimal', 'hex'].includes(v),
  tlv_receipts: isBool,
  text_fields: isBool,
  silent: isBool,
  throttle: (v) => v !== null && typeof v === 'object' && !Array.isArray(v) &&
    Object.keys(v).every((k) => k === 'tps') && isNonNegNumber(v.tps === undefined ? 0 : v.tps),
  resp_delay_ms: isNonNegNumber,
  no_resp: isBool,
  requeue_unacked: isBool,
  enquire_link_ms: isNonNegNumber,
  seed: (v) => v === null || Number.isInteger(v),
};

let config = structuredClone(DEFAULTS);
const plans = { reject_next: { count: 0, status: 'ESME_RMSGQFUL' }, drop_after: null, refuse_until: 0 };

function zeroCounters() {
  return {
    connections: 0, binds: 0, bind_failures: 0, unbinds: 0, enquire_links: 0,
    submits: 0, accepted: 0, rejected: 0, throttled: 0, unanswered: 0,
    receipts_sent: 0, mo_sent: 0, deliver_resp_ok: 0, deliver_resp_error: 0,
    deliver_unacked: 0, requeued: 0, drops: 0,
  };
}
let counters = zeroCounters();
let log = [];

// Seedable PRNG (mulberry32) so that fail_ratio and random orders can be reproduced.
let rngState = (Math.random() * 2 ** 32) >>> 0;
function random() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function ordered(items, order) {
  const out = items.slice();
  if (order === 'reverse') out.reverse();
  else if (order === 'random' || order === 'shuffle') {
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Message ids.
let idCounter = 0x100000 + Math.floor(Math.random() * 0xe00000);

function newMessageId() {
  idCounter += 1;
  switch (config.id_format) {
    case 'decimal':
      return String(idCounter);
    case 'uuid':
      return crypto.randomUUID();
    default:
      return idCounter.toString(16).toUpperCase();
  }
}

/** The id as written in the receipt text: the known quirk is decimal for a hex id. */
function receiptTextId(id, idFormat) {
  const wanted = config.receipt_id_format;
  if (wanted === 'same') return id;
  const digits = idFormat === 'decimal' ? BigInt(id) : BigInt('0x' + id.replace(/-/g, ''));
  return wanted === 'decimal' ? digits.toString(10) : digits.toString(16).toUpperCase();
}

// ---------------------------------------------------------------------------------------
// Logging.
const PDU_LOG = process.env.SMSC_PDU_LOG !== '0';

function stamp() {
  return new Date().toISOString().slice(11, 23);
}

function note(message) {
  process.stderr.write(`${stamp()} smsc ${message}\n`);
}

function pduLine(conn, direction, pdu) {
  if (!PDU_LOG) return;
  let detail = '';
  switch (pdu.command) {
    case 'bind_transceiver':
    case 'bind_transmitter':
    case 'bind_receiver':
      detail = ` system_id=${pdu.system_id}`;
      break;
    case 'submit_sm':
    case 'deliver_sm': {
      const len = pdu.short_message ? pdu.short_message.length : 0;
      detail = ` ${pdu.source_addr}->${pdu.destination_addr} esm=0x${(pdu.esm_class || 0).toString(16)}` +
        ` dc=${pdu.data_coding || 0} len=${len}`;
      if (pdu.receipted_message_id) detail += ` receipted=${pdu.receipted_message_id}`;
      break;
    }
    case 'submit_sm_resp':
      detail = pdu.message_id ? ` id=${pdu.message_id}` : '';
      break;
    default:
  }
  const status = pdu.command_status ? ` status=${statusName(pdu.command_status)}` : '';
  process.stderr.write(
    `${stamp()} #${conn.id} ${direction} ${pdu.command} seq=${pdu.sequence_number}${status}${detail}\n`,
  );
}

// ---------------------------------------------------------------------------------------
// Connections.
const conns = new Set();
let connSeq = 0;
const undelivered = []; // deliver_sm items waiting for a bound receiver of their system_id

function canReceive(conn) {
  return !conn.closing && (conn.mode === 'receiver' || conn.mode === 'transceiver');
}

function receiverFor(systemId, preferred) {
  if (preferred && canReceive(preferred) && preferred.system_id === systemId) return preferred;
  for (const conn of conns) if (canReceive(conn) && conn.system_id === systemId) return conn;
  return null;
}

function sendPdu(conn, command, options, onResp, onWritten) {
  const pdu = new smpp.PDU(command, options);
  const ok = conn.session.send(pdu, onResp, onWritten);
  if (ok) pduLine(conn, '->', pdu);
  return ok ? pdu : null;
}

function respond(conn, pdu, options, onWritten) {
  const resp = pdu.response(options || {});
  conn.session.send(resp, null, onWritten || (() => {}));
  pduLine(conn, '->', resp);
}

function dropAll(reason, reset) {
  const victims = [...conns];
  for (const conn of victims) conn.closing = true;
  for (const conn of victims) {
    if (reset && typeof conn.socket.resetAndDestroy === 'function') conn.socket.resetAndDestroy();
    else conn.socket.destroy();
  }
  counters.drops += 1;
  note(`dropped ${victims.length} connection(s): ${reason}`);
  return victims.length;
}

function onConnection(session) {
  const socket = session.socket;
  const conn = {
    id: ++connSeq, session, socket, mode: null, system_id: null, closing: false,
    remote: `${socket.remoteAddress}:${socket.remotePort}`,
    submitTimes: [], pending: new Map(), lastEnquire: Date.now(),
  };
  counters.connections += 1;
  socket.setNoDelay(true);
  if (Date.now() < plans.refuse_until) {
    note(`#${conn.id} refused (drop refuse_ms window)`);
    socket.destroy();
    return;
  }
  conns.add(conn);
  note(`#${conn.id} connected from ${conn.remote}`);

  session.on('pdu', (pdu) => {
    pduLine(conn, '<-', pdu);
    if (pdu.isResponse() && rawSequences.has(pdu.sequence_number)) {
      log.push({
        t: Date.now(), pdu: 'raw_answer', connection: conn.id, command: pdu.command,
        sequence_number: pdu.sequence_number, status: statusName(pdu.command_status || 0),
      });
    }
    try {
      handlePdu(conn, pdu);
    } catch (error) {
      note(`#${conn.id} error handling ${pdu.command}: ${error.stack || error}`);
    }
  });
  session.on('error', (error) => {
    note(`#${conn.id} socket error: ${error.message}`);
    socket.destroy();
  });
  session.on('close', () => {
    conns.delete(conn);
    conn.closing = true;
    note(`#${conn.id} closed (${conn.system_id || 'unbound'})`);
    const pending = [...conn.pending.values()];
    conn.pending.clear();
    for (const { item, entry } of pending) {
      entry.status = 'unacked';
      counters.deliver_unacked += 1;
      item.settle('unacked');
      if (config.requeue_unacked) {
        counters.requeued += 1;
        deliver(item.requeue());
      }
    }
  });
}

function handlePdu(conn, pdu) {
  switch (pdu.command) {
    case 'bind_transceiver':
      return onBind(conn, pdu, 'transceiver');
    case 'bind_transmitter':
      return onBind(conn, pdu, 'transmitter');
    case 'bind_receiver':
      return onBind(conn, pdu, 'receiver');
    case 'enquire_link':
      counters.enquire_links += 1;
      return respond(conn, pdu);
    case 'unbind':
      counters.unbinds += 1;
      conn.closing = true;
      return respond(conn, pdu, {}, () => conn.socket.end());
    case 'submit_sm':
      return onSubmit(conn, pdu);
    case 'unknown':
      return respond(conn, pdu, { command_status: ERRORS.ESME_RINVCMDID });
    default:
      if (pdu.isResponse()) return undefined; // matched by node-smpp's callbacks
      if (!smpp.commands[pdu.command + '_resp']) return undefined; // outbind, alert_notification
      // Anything else (data_sm, query_sm, ...) is not simulated.
      return respond(conn, pdu, { command_status: ERRORS.ESME_RINVCMDID });
  }
}

function onBind(conn, pdu, mode) {
  const wantedId = process.env.SMSC_SYSTEM_ID || '';
  const wantedPassword = process.env.SMSC_PASSWORD || '';
  let status = 0;
  if (conn.mode) status = ERRORS.ESME_RALYBND;
  else if (wantedId && pdu.system_id !== wantedId) status = ERRORS.ESME_RINVSYSID;
  else if (wantedPassword && pdu.password !== wantedPassword) status = ERRORS.ESME_RINVPASWD;
  if (status) {
    counters.bind_failures += 1;
    note(`#${conn.id} bind refused: ${statusName(status)} (system_id=${pdu.system_id})`);
    return respond(conn, pdu, { command_status: status });
  }
  conn.mode = mode;
  conn.system_id = pdu.system_id;
  counters.binds += 1;
  note(`#${conn.id} bound as ${mode} system_id=${pdu.system_id}`);
  return respond(conn, pdu, { system_id: 'SMSCSIM' }, () => {
    // Receipts and MOs that found no receiver are delivered to the first one that binds.
    if (!canReceive(conn)) return;
    for (let i = 0; i < undelivered.length;) {
      if (undelivered[i].system_id === conn.system_id) deliver(undelivered.splice(i, 1)[0]);
      else i++;
    }
  });
}

// ---------------------------------------------------------------------------------------
// submit_sm.
function addr(value) {
  return typeof value === 'string' ? value : '';
}

function splitUdh(esmClass, body) {
  if (!(esmClass & 0x40) || !body.length) return { udh: null, rest: body };
  const length = body[0] + 1;
  return { udh: body.subarray(0, length), rest: body.subarray(length) };
}

function udhConcat(udh) {
  if (!udh) return null;
  for (let i = 1; i + 1 < udh.length;) {
    const iei = udh[i];
    const len = udh[i + 1];
    const data = udh.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) return { type: 'udh8', ref: data[0], total: data[1], seq: data[2] };
    if (iei === 0x08 && len === 4) {
      return { type: 'udh16', ref: data.readUInt16BE(0), total: data[2], seq: data[3] };
    }
    i += 2 + len;
  }
  return null;
}

function submitEntry(conn, pdu) {
  const shortMessage = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
  const body = shortMessage.length || !payload ? shortMessage : payload;
  const esmClass = pdu.esm_class || 0;
  const dataCoding = pdu.data_coding || 0;
  const { udh, rest } = splitUdh(esmClass, body);
  const sar = pdu.sar_msg_ref_num !== undefined
    ? { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum }
    : null;
  return {
    t: Date.now(),
    pdu: 'submit_sm',
    connection: conn.id,
    system_id: conn.system_id,
    sequence_number: pdu.sequence_number,
    source: addr(pdu.source_addr),
    source_ton: pdu.source_addr_ton || 0,
    source_npi: pdu.source_addr_npi || 0,
    destination: addr(pdu.destination_addr),
    dest_ton: pdu.dest_addr_ton || 0,
    dest_npi: pdu.dest_addr_npi || 0,
    service_type: addr(pdu.service_type),
    data_coding: dataCoding,
    esm_class: esmClass,
    registered_delivery: pdu.registered_delivery || 0,
    // node-smpp reads a relative validity_period as the time it ends
    validity_period: pdu.validity_period instanceof Date
      ? pdu.validity_period.toISOString() : pdu.validity_period || null,
    udh_hex: udh ? udh.toString('hex') : null,
    short_message_hex: rest.toString('hex'),
    message_payload: body === payload,
    text: decodeText(dataCoding, rest),
    concat: sar ? { type: 'sar', ...sar } : udhConcat(udh),
    sar,
    message_id: null,
    status: null,
  };
}

function onSubmit(conn, pdu) {
  if (conn.mode !== 'transmitter' && conn.mode !== 'transceiver') {
    return respond(conn, pdu, { command_status: ERRORS.ESME_RINVBNDSTS });
  }
  counters.submits += 1;
  const entry = submitEntry(conn, pdu);
  log.push(entry);

  let dropAfterResp = false;
  if (plans.drop_after) {
    plans.drop_after.remaining -= 1;
    if (plans.drop_after.remaining <= 0) {
      const plan = plans.drop_after;
      plans.drop_after = null;
      if (plan.before_resp) {
        entry.status = 'dropped';
        dropAll(`after submit #${plan.after_submits}, before its response`, plan.reset);
        return undefined;
      }
      dropAfterResp = plan;
    }
  }
  const finish = dropAfterResp
    ? () => dropAll(`after submit #${dropAfterResp.after_submits}, after its response`, dropAfterResp.reset)
    : () => {};

  let status = 0;
  if (plans.reject_next.count > 0) {
    plans.reject_next.count -= 1;
    status = parseStatus(plans.reject_next.status);
  } else if (config.throttle.tps > 0) {
    const now = Date.now();
    while (conn.submitTimes.length && now - conn.submitTimes[0] >= 1000) conn.submitTimes.shift();
    if (conn.submitTimes.length >= config.throttle.tps) status = ERRORS.ESME_RTHROTTLED;
    else conn.submitTimes.push(now);
  }

  if (config.no_resp) {
    entry.status = 'no_resp';
    counters.unanswered += 1;
    finish();
    return undefined;
  }
  if (status) {
    entry.status = statusName(status);
    if (status === ERRORS.ESME_RTHROTTLED) counters.throttled += 1;
    else counters.rejected += 1;
    return later(config.resp_delay_ms, () => respond(conn, pdu, { command_status: status }, finish));
  }

  const messageId = newMessageId();
  entry.message_id = messageId;
  entry.status = 'ESME_ROK';
  counters.accepted += 1;
  const failed = config.fail_destinations.includes(entry.destination) ||
    (config.fail_ratio > 0 && random() < config.fail_ratio);
  const wantsReceipt = !config.silent &&
    ((entry.registered_delivery & 0x03) === 1 || ((entry.registered_delivery & 0x03) === 2 && failed));
  const receipt = wantsReceipt ? receiptItem(conn, entry, failed) : null;

  if (receipt && config.receipt_before_resp) {
    deliver(receipt);
    if (config.duplicate_receipts) deliver(receipt.requeue());
    receipt.done = true;
  }
  // An accepted message is delivered, and its receipt queued for the next bind of this
  // system_id, even when the response dies with the connection: a real SMSC does not
  // forget what it took because the ESME went away.
  return later(config.resp_delay_ms, () => {
    if (receipt && !receipt.done) scheduleReceipt(receipt);
    respond(conn, pdu, { message_id: messageId }, finish);
  });
}

function later(ms, fn) {
  if (ms > 0) setTimeout(fn, ms);
  else fn();
}

// ---------------------------------------------------------------------------------------
// Delivery receipts and MO: deliver_sm items, sent to a bound receiver of their system_id.
function ymdhm(date) {
  const two = (n) => String(n).padStart(2, '0');
  return two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes());
}

function makeItem(kind, systemId, preferred, buildOptions, logFields) {
  const item = {
    kind, system_id: systemId, preferred, buildOptions, logFields, done: false,
    waiters: [], result: null,
    settle(status) {
      item.result = status;
      for (const waiter of item.waiters.splice(0)) waiter(status);
    },
    requeue() {
      return makeItem(kind, systemId, null, buildOptions, logFields);
    },
  };
  return item;
}

function receiptItem(conn, submit, failed) {
  const idFormat = config.id_format;
  const submitted = new Date(submit.t);
  const stat = failed ? config.fail_stat : 'DELIVRD';
  const err = failed ? config.fail_err.padStart(3, '0') : '000';
  const textFields = config.text_fields;
  const tlv = config.tlv_receipts;
  const textId = receiptTextId(submit.message_id, idFormat);
  const build = () => {
    const parts = [`id:${textId}`];
    if (textFields) parts.push('sub:001');
    parts.push(`dlvrd:${failed ? '000' : '001'}`, `submit date:${ymdhm(submitted)}`,
      `done date:${ymdhm(new Date())}`, `stat:${stat}`, `err:${err}`);
    if (textFields) parts.push(`text:${submit.text.slice(0, 20)}`);
    const options = {
      source_addr_ton: submit.dest_ton, source_addr_npi: submit.dest_npi, source_addr: submit.destination,
      dest_addr_ton: submit.source_ton, dest_addr_npi: submit.source_npi, destination_addr: submit.source,
      esm_class: 0x04, data_coding: 0, short_message: gsmEncode(parts.join(' ')),
    };
    if (tlv) {
      options.receipted_message_id = submit.message_id;
      options.message_state = STATES[stat];
      if (failed) options.network_error_code = Buffer.from([0x03, 0x00, Number(err) & 0xff]);
    }
    return options;
  };
  return makeItem('receipt', conn.system_id, conn, build, {
    receipted_message_id: submit.message_id, receipt_text_id: textId, stat, err,
  });
}

let receiptBatch = null;

function scheduleReceipt(item) {
  if (!receiptBatch) {
    receiptBatch = { items: [] };
    receiptBatch.timer = setTimeout(() => {
      const { items } = receiptBatch;
      receiptBatch = null;
      for (const one of ordered(items, config.receipt_order)) {
        deliver(one);
        if (config.duplicate_receipts) deliver(one.requeue());
      }
    }, config.receipt_delay_ms);
  }
  receiptBatch.items.push(item);
}

function deliver(item) {
  const conn = receiverFor(item.system_id, item.preferred);
  if (!conn) {
    undelivered.push(item);
    return;
  }
  const options = item.buildOptions();
  const body = options.short_message.length ? options.short_message : options.message_payload || Buffer.alloc(0);
  const { udh, rest } = splitUdh(options.esm_class, body);
  const entry = {
    t: Date.now(),
    pdu: 'deliver_sm',
    kind: item.kind,
    connection: conn.id,
    system_id: conn.system_id,
    source: options.source_addr,
    destination: options.destination_addr,
    data_coding: options.data_coding,
    esm_class: options.esm_class,
    udh_hex: udh ? udh.toString('hex') : null,
    short_message_hex: rest.toString('hex'),
    message_payload: !options.short_message.length && !!options.message_payload,
    text: decodeText(options.data_coding, rest),
    concat: options.sar_msg_ref_num !== undefined
      ? { type: 'sar', ref: options.sar_msg_ref_num, total: options.sar_total_segments, seq: options.sar_segment_seqnum }
      : udhConcat(udh),
    sar: options.sar_msg_ref_num !== undefined
      ? { ref: options.sar_msg_ref_num, total: options.sar_total_segments, seq: options.sar_segment_seqnum }
      : null,
    ...item.logFields,
    message_id: item.logFields.receipted_message_id || null,
    sequence_number: null,
    status: null,
  };
  log.push(entry);
  const pdu = sendPdu(conn, 'deliver_sm', options, (resp) => {
    conn.pending.delete(resp.sequence_number);
    entry.status = statusName(resp.command_status);
    if (resp.command_status) counters.deliver_resp_error += 1;
    else counters.deliver_resp_ok += 1;
    item.settle(entry.status);
  });
  if (!pdu) {
    log.pop();
    undelivered.push(item);
    return;
  }
  entry.sequence_number = pdu.sequence_number;
  conn.pending.set(pdu.sequence_number, { item, entry });
  if (item.kind === 'receipt') counters.receipts_sent += 1;
  else counters.mo_sent += 1;
}

// ---------------------------------------------------------------------------------------
// MO (POST /mo).
let moRef = Math.floor(Math.random() * 200);

function address(value, field) {
  if (typeof value !== 'string' || !value) throw new BadRequest(`${field} is required`);
  if (value.startsWith('+')) return { addr: value.slice(1), ton: 1, npi: 1 };
  if (/^[0-9]+$/.test(value)) return { addr: value, ton: value.length <= 6 ? 3 : 1, npi: 1 };
  return { addr: value, ton: 5, npi: 0 };
}

const CAPACITY = {
  // [single, udh8, udh16, sar] in units of septets (GSM) or octets (UCS-2)
  0: { null: 160, udh8: 153, udh16: 152, sar: 160 },
  8: { null: 140, udh8: 134, udh16: 132, sar: 140 },
};

function moUnits(text, dataCoding) {
  if (dataCoding === 0) return gsmUnits(text, true);
  return [...text].map((ch) => [...ucs2Encode(ch)]);
}

function splitUnits(units, segments, capacity) {
  if (segments) {
    if (units.length < segments) throw new BadRequest(`${segments} segments asked for ${units.length} characters`);
    const out = [];
    let start = 0;
    for (let i = 0; i < segments; i++) {
      const size = Math.floor(units.length / segments) + (i < units.length % segments ? 1 : 0);
      out.push(units.slice(start, start + size));
      start += size;
    }
    return out;
  }
  const out = [[]];
  let used = 0;
  for (const unit of units) {
    if (used + unit.length > capacity) {
      out.push([]);
      used = 0;
    }
    out[out.length - 1].push(unit);
    used += unit.length;
  }
  return out;
}

const MO_FIELDS = ['source', 'destination', 'text', 'data_coding', 'concat', 'order', 'segments',
  'ref', 'interval_ms', 'system_id', 'queue', 'wait', 'wait_timeout_ms', 'only'];

async function sendMo(body) {
  for (const key of Object.keys(body)) {
    if (!MO_FIELDS.includes(key)) throw new BadRequest(`unknown /mo field ${key}`);
  }
  const source = address(body.source, 'source');
  const destination = address(body.destination, 'destination');
  const text = body.text;
  if (typeof text !== 'string') throw new BadRequest('text is required');
  const dataCoding = body.data_coding === undefined ? 0 : body.data_coding;
  if (dataCoding !== 0 && dataCoding !== 8) throw new BadRequest('data_coding must be 0 or 8');
  const concat = body.concat === undefined ? null : body.concat;
  if (![null, 'udh8', 'udh16', 'sar'].includes(concat)) throw new BadRequest('concat must be udh8, udh16, sar or null');
  const order = body.order || 'inorder';
  if (!ORDERS.includes(order)) throw new BadRequest(`order must be one of ${ORDERS.join(', ')}`);
  const segmentsAsked = body.segments === undefined || body.segments === null ? null : body.segments;
  if (segmentsAsked !== null && (!Number.isInteger(segmentsAsked) || segmentsAsked < 1 || segmentsAsked > 255)) {
    throw new BadRequest('segments must be an integer from 1 to 255');
  }
  if (concat === null && segmentsAsked !== null && segmentsAsked > 1) {
    throw new BadRequest('more than one segment needs concat (udh8, udh16 or sar)');
  }
  const interval = body.interval_ms || 0;

  const units = moUnits(text, dataCoding);
  const chunks = concat === null ? [units] : splitUnits(units, segmentsAsked, CAPACITY[dataCoding][concat]);
  if (chunks.length > 255) throw new BadRequest('more than 255 segments');
  let ref = null;
  if (concat !== null) {
    const modulo = concat === 'udh8' ? 256 : 65536;
    ref = Number.isInteger(body.ref) ? body.ref % modulo : (moRef = (moRef + 1) % modulo);
  }

  let systemId = body.system_id;
  if (systemId === undefined) {
    const any = [...conns].find(canReceive);
    systemId = any ? any.system_id : process.env.SMSC_SYSTEM_ID || null;
  }
  if (!systemId || (!receiverFor(systemId, null) && !body.queue)) {
    throw new BadRequest('no receiver or transceiver is bound' + (systemId ? ` for ${systemId}` : ''), 409);
  }

  const total = chunks.length;
  const items = chunks.map((chunk, index) => {
    const message = Buffer.from(chunk.flat());
    const options = {
      source_addr_ton: source.ton, source_addr_npi: source.npi, source_addr: source.addr,
      dest_addr_ton: destination.ton, dest_addr_npi: destination.npi, destination_addr: destination.addr,
      esm_class: 0, data_coding: dataCoding,
    };
    let shortMessage = message;
    if (concat === 'udh8') {
      shortMessage = Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref, total, index + 1]), message]);
      options.esm_class = 0x40;
    } else if (concat === 'udh16') {
      shortMessage = Buffer.concat([Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xff, total, index + 1]), message]);
      options.esm_class = 0x40;
    } else if (concat === 'sar') {
      options.sar_msg_ref_num = ref;
      options.sar_total_segments = total;
      options.sar_segment_seqnum = index + 1;
    }
    if (shortMessage.length > 254) {
      options.short_message = Buffer.alloc(0);
      options.message_payload = shortMessage;
    } else {
      options.short_message = shortMessage;
    }
    return makeItem('mo', systemId, null, () => ({ ...options }), {});
  });

  let chosen = items;
  if (body.only !== undefined && body.only !== null) {
    const only = body.only;
    if (!Array.isArray(only) || !only.length || !only.every((n) => Number.isInteger(n) && n >= 1 && n <= total)) {
      throw new BadRequest(`only must be a non-empty list of segment numbers from 1 to ${total}`);
    }
    chosen = items.filter((item, index) => only.includes(index + 1));
  }
  const sendOrder = ordered(chosen, order);
  const waits = chosen.map((item) => new Promise((resolve) => item.waiters.push(resolve)));
  for (let i = 0; i < sendOrder.length; i++) {
    if (i && interval) await new Promise((resolve) => setTimeout(resolve, interval));
    deliver(sendOrder[i]);
  }
  const result = {
    system_id: systemId, segments: total, ref, concat, data_coding: dataCoding,
    order: sendOrder.map((item) => items.indexOf(item) + 1),
  };
  if (body.wait) {
    const timeout = body.wait_timeout_ms || 5000;
    const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeout));
    result.statuses = await Promise.all(waits.map((wait) => Promise.race([wait, timer])));
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Raw bytes (POST /raw): what node-smpp would never build (an unknown command id, a broken
// body, a length out of step), written as they are to every bound session.
const rawSequences = new Set(); // of raw PDUs written, so that their answers are logged

function sendRaw(body) {
  for (const key of Object.keys(body)) {
    if (!['hex', 'system_id'].includes(key)) throw new BadRequest(`unknown /raw field ${key}`);
  }
  if (typeof body.hex !== 'string' || !/^(?:[0-9a-fA-F]{2})+$/.test(body.hex)) {
    throw new BadRequest('hex must be a non-empty, even number of hex digits');
  }
  const bytes = Buffer.from(body.hex, 'hex');
  const systemId = body.system_id === undefined ? null : body.system_id;
  const targets = [...conns].filter(
    (conn) => conn.mode && !conn.closing && (systemId === null || conn.system_id === systemId),
  );
  if (!targets.length) throw new BadRequest('no session is bound' + (systemId ? ` for ${systemId}` : ''), 409);
  if (bytes.length >= 16) rawSequences.add(bytes.readUInt32BE(12));
  for (const conn of targets) conn.socket.write(bytes);
  note(`raw ${bytes.length} bytes to ${targets.map((conn) => `#${conn.id}`).join(', ')}: ${body.hex.slice(0, 64)}`);
  return { sessions: targets.map((conn) => conn.id), bytes: bytes.length };
}

// ---------------------------------------------------------------------------------------
// Control API.
function publicConfig() {
  return structuredClone(config);
}

function applyConfig(body) {
  const next = structuredClone(config);
  for (const [key, value] of Object.entries(body)) {
    if (key === 'reject_next') continue;
    if (!(key in VALIDATORS)) throw new BadRequest(`unknown config field ${key}`);
    if (!VALIDATORS[key](value)) throw new BadRequest(`invalid value for ${key}: ${JSON.stringify(value)}`);
    next[key] = key === 'throttle' ? { tps: value.tps || 0 } : value;
  }
  let rejectNext = null;
  if (body.reject_next !== undefined) {
    const value = body.reject_next;
    if (value === null) rejectNext = { count: 0, status: 'ESME_RMSGQFUL' };
    else {
      if (typeof value !== 'object' || !Number.isInteger(value.count) || value.count < 0) {
        throw new BadRequest('reject_next needs {"count": N, "status": "ESME_..."}');
      }
      const code = parseStatus(value.status === undefined ? 'ESME_RMSGQFUL' : value.status);
      if (code === 0) throw new BadRequest('reject_next.status must be an error status');
      rejectNext = { count: value.count, status: statusName(code) };
    }
  }
  config = next;
  if (rejectNext) plans.reject_next = rejectNext;
  if (body.seed !== undefined && body.seed !== null) rngState = body.seed >>> 0;
  note(`config ${JSON.stringify(body)}`);
}

function state() {
  return {
    smpp_port: smppPort,
    control_port: controlPort,
    config: publicConfig(),
    reject_next: plans.reject_next,
    drop_after: plans.drop_after,
    refusing_ms: Math.max(0, plans.refuse_until - Date.now()),
    counters,
    undelivered: undelivered.length,
    sessions: [...conns].map((conn) => ({
      id: conn.id, remote: conn.remote, system_id: conn.system_id, mode: conn.mode,
      pending_deliver_sm: conn.pending.size,
    })),
  };
}

function drop(body) {
  for (const key of Object.keys(body)) {
    if (!['after_submits', 'before_resp', 'refuse_ms', 'reset'].includes(key)) {
      throw new BadRequest(`unknown /drop field ${key}`);
    }
  }
  if (body.refuse_ms !== undefined) {
    if (!isNonNegNumber(body.refuse_ms)) throw new BadRequest('refuse_ms must be a number >= 0');
    plans.refuse_until = Date.now() + body.refuse_ms;
  }
  if (body.after_submits !== undefined && body.after_submits !== null) {
    const n = body.after_submits;
    if (!Number.isInteger(n) || n < 1) throw new BadRequest('after_submits must be an integer >= 1');
    plans.drop_after = { after_submits: n, remaining: n, before_resp: !!body.before_resp, reset: !!body.reset };
    note(`drop planned after ${n} submit(s)`);
    return { planned: plans.drop_after };
  }
  return { dropped: dropAll('POST /drop', !!body.reset) };
}

function reset(body) {
  log = [];
  rawSequences.clear();
  counters = zeroCounters();
  undelivered.length = 0;
  if (receiptBatch) clearTimeout(receiptBatch.timer);
  receiptBatch = null;
  plans.reject_next = { count: 0, status: 'ESME_RMSGQFUL' };
  plans.drop_after = null;
  plans.refuse_until = 0;
  for (const conn of conns) conn.submitTimes = [];
  if (body.config) config = structuredClone(DEFAULTS);
  note('reset' + (body.config ? ' (with config)' : ''));
  return state();
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', reject);
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8').trim();
      if (!raw) return resolve({});
      try {
        const value = JSON.parse(raw);
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          return reject(new BadRequest('the body must be a JSON object'));
        }
        return resolve(value);
      } catch (error) {
        return reject(new BadRequest(`invalid JSON: ${error.message}`));
      }
    });
  });
}

async function route(req) {
  const url = new URL(req.url, 'http://localhost');
  const key = `${req.method} ${url.pathname}`;
  switch (key) {
    case 'GET /state':
      return state();
    case 'GET /log': {
      const pdu = url.searchParams.get('pdu');
      return pdu ? log.filter((entry) => entry.pdu === pdu) : log;
    }
    case 'POST /config':
      applyConfig(await readJson(req));
      return state();
    case 'POST /drop':
      return drop(await readJson(req));
    case 'POST /mo':
      return sendMo(await readJson(req));
    case 'POST /raw':
      return sendRaw(await readJson(req));
    case 'POST /reset':
      return reset(await readJson(req));
    default:
      throw new BadRequest(`no route ${key}`, 404);
  }
}

function onControl(req, res) {
  route(req).then(
    (value) => reply(res, 200, value),
    (error) => {
      if (!(error instanceof BadRequest)) note(`control error: ${error.stack || error}`);
      reply(res, error instanceof BadRequest ? error.code : 500, { error: error.message });
    },
  );
}

function reply(res, code, value) {
  const body = JSON.stringify(value);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// ---------------------------------------------------------------------------------------
// Server-initiated enquire_link (config enquire_link_ms > 0).
setInterval(() => {
  if (!config.enquire_link_ms) return;
  const now = Date.now();
  for (const conn of conns) {
    if (conn.mode && !conn.closing && now - conn.lastEnquire >= config.enquire_link_ms) {
      conn.lastEnquire = now;
      sendPdu(conn, 'enquire_link', {}, () => {});
    }
  }
}, 50).unref();

// ---------------------------------------------------------------------------------------
// Start-up and shut-down.
function option(name, envName) {
  const args = process.argv.slice(2);
  const at = args.indexOf(name);
  if (at !== -1) return args[at + 1];
  const prefixed = args.find((arg) => arg.startsWith(name + '='));
  if (prefixed) return prefixed.slice(name.length + 1);
  return process.env[envName];
}

function portOption(name, envName) {
  const raw = option(name, envName);
  if (raw === undefined || raw === '') return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`smsc: invalid ${name} ${JSON.stringify(raw)}\n`);
    process.exit(1);
  }
  return port;
}

const systemIdArg = option('--system-id', 'SMSC_SYSTEM_ID');
if (systemIdArg !== undefined) process.env.SMSC_SYSTEM_ID = systemIdArg;
const passwordArg = option('--password', 'SMSC_PASSWORD');
if (passwordArg !== undefined) process.env.SMSC_PASSWORD = passwordArg;

let smppPort = 0;
let controlPort = 0;
const smscServer = smpp.createServer({}, onConnection);
const controlServer = http.createServer(onControl);

function fatal(what, error) {
  process.stderr.write(`smsc: cannot start the ${what}: ${error.message}\n`);
  process.exit(1);
}

function listen(server, port, what) {
  return new Promise((resolve) => {
    server.once('error', (error) => fatal(what, error));
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

function shutdown(signal) {
  note(`${signal}: closing`);
  for (const conn of conns) {
    conn.closing = true;
    conn.socket.destroy();
  }
  smscServer.close();
  controlServer.close();
  controlServer.closeAllConnections();
  setImmediate(() => process.exit(0));
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

(async () => {
  smppPort = await listen(smscServer, portOption('--port', 'SMSC_PORT'), 'SMPP server');
  controlPort = await listen(controlServer, portOption('--control-port', 'SMSC_CONTROL_PORT'), 'control API');
  smscServer.on('error', (error) => note(`SMPP server error: ${error.message}`));
  controlServer.on('error', (error) => note(`control server error: ${error.message}`));
  process.stdout.write(`LISTENING ${smppPort} CONTROL ${controlPort}\n`);
  note(`SMPP 3.4 on 127.0.0.1:${smppPort}, control API on http://127.0.0.1:${controlPort}` +
    ` (system_id ${process.env.SMSC_SYSTEM_ID || '<any>'})`);
})().catch((error) => fatal('simulator', error));
