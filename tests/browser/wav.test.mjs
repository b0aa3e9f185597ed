// web/js/wav.js in node: the WAV the browser sends for voice ordering.
//  - the header, byte by byte, and sox reading the file back as 16 kHz mono
//    16-bit with the samples written;
//  - resampling: lengths from the usual microphone rates, a 440 Hz tone
//    keeps its pitch and level, the speech band passes, tones above 8 kHz
//    (which 16 kHz cannot hold) are filtered out, not folded down;
//  - float to 16-bit conversion at the limits.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  VOICE_RATE_HZ, WAV_HEADER_BYTES, resample, toPcm16, encodeWav, voiceWav, concatSamples,
} from '../../web/js/wav.js';

const tone = (hz, rate, seconds, amp = 0.5) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

const rms = (a, from = 0, to = a.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i] * a[i];
  return Math.sqrt(s / (to - from));
};

/** Rising zero crossings per second. */
function pitchHz(a, rate) {
  let n = 0;
  for (let i = 1; i < a.length; i++) if (a[i - 1] < 0 && a[i] >= 0) n++;
  return n / (a.length / rate);
}

test('the header is a canonical 44-byte PCM WAV header: 16 kHz, mono, 16-bit', () => {
  const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
  const wav = encodeWav(pcm);
  assert.equal(wav.length, WAV_HEADER_BYTES + 12);
  const ascii = (at, n) => String.fromCharCode(...wav.subarray(at, at + n));
  const v = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  assert.equal(ascii(0, 4), 'RIFF');
  assert.equal(v.getUint32(4, true), wav.length - 8);
  assert.equal(ascii(8, 4), 'WAVE');
  assert.equal(ascii(12, 4), 'fmt ');
  assert.equal(v.getUint32(16, true), 16);
  assert.equal(v.getUint16(20, true), 1, 'PCM');
  assert.equal(v.getUint16(22, true), 1, 'mono');
  assert.equal(v.getUint32(24, true), 16000);
  assert.equal(v.getUint32(28, true), 32000, 'bytes per second');
  assert.equal(v.getUint16(32, true), 2, 'block align');
  assert.equal(v.getUint16(34, true), 16, 'bits');
  assert.equal(ascii(36, 4), 'data');
  assert.equal(v.getUint32(40, true), 12);
  // Little-endian samples, exactly as given.
  assert.deepEqual([...wav.subarray(44)], [0, 0, 1, 0, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x80, 0xd2, 0x04]);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => v.getInt16(44 + 2 * i, true)), [...pcm]);
  assert.equal(encodeWav(new Int16Array(0)).length, WAV_HEADER_BYTES);
});

test('sox reads the file back: 16 kHz, 1 channel, 16-bit, the same samples', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kassa-wav-'));
  try {
    const rec = tone(440, 48000, 0.5);
    const file = path.join(dir, 'order.wav');
    fs.writeFileSync(file, voiceWav(rec, 48000));
    const info = (flag) => execFileSync('soxi', [flag, file], { encoding: 'utf8' }).trim();
    assert.equal(info('-r'), '16000');
    assert.equal(info('-c'), '1');
    assert.equal(info('-b'), '16');
    assert.equal(info('-s'), '8000', 'samples');
    assert.equal(info('-e'), 'Signed Integer PCM');
    const raw = execFileSync('sox', [file, '-t', 's16', '-'], { maxBuffer: 1 << 20 });
    const back = new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    assert.deepEqual([...back], [...toPcm16(resample(rec, 48000))]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('resampling to 16 kHz: lengths from the usual rates', () => {
  for (const [rate, seconds, want] of [
    [48000, 1, 16000], [44100, 1, 16000], [96000, 0.5, 8000], [16000, 2, 32000],
    [22050, 1, 16000], [8000, 1, 16000], [48000, 2.5, 40000], [44100, 0.01, 160],
  ]) {
    const n = Math.round(rate * seconds);
    assert.equal(resample(new Float32Array(n), rate).length, want, `${n} samples at ${rate} Hz`);
  }
  assert.equal(resample(new Float32Array(0), 48000).length, 0);
  assert.equal(resample(new Float32Array(2), 48000).length, 0, 'less than one output sample');
  assert.throws(() => resample(new Float32Array(10), 0), RangeError);
});

test('resampling keeps a 440 Hz tone and the speech band, and filters out what is above 8 kHz', () => {
  const full = 0.5 / Math.SQRT2; // the tones' RMS
  for (const rate of [48000, 44100, 8000]) {
    const out = resample(tone(440, rate, 1), rate);
    assert.ok(Math.abs(pitchHz(out, VOICE_RATE_HZ) - 440) <= 2, `pitch from ${rate} Hz: ${pitchHz(out, VOICE_RATE_HZ)}`);
    const level = rms(out) / full;
    assert.ok(level > 0.98 && level < 1.02, `level from ${rate} Hz: ${level}`);
  }
  // Away from the ends (the filter's reach) the level of each tone.
  const level = (hz, rate) => {
    const out = resample(tone(hz, rate, 1), rate);
    return rms(out, 500, out.length - 500) / full;
  };
  for (const rate of [48000, 44100]) {
    for (const hz of [300, 1000, 3000, 6000]) {
      assert.ok(Math.abs(level(hz, rate) - 1) < 0.01, `${hz} Hz from ${rate} Hz: ${level(hz, rate)}`);
    }
    // 9 and 12 kHz would fold down to 7 and 4 kHz at full level.
    for (const hz of [9000, 12000, 15000]) {
      assert.ok(level(hz, rate) < 0.01, `${hz} Hz from ${rate} Hz left at ${level(hz, rate)}`);
    }
  }
});

test('floats to 16-bit: the limits, clipping beyond them, rounding', () => {
  assert.deepEqual([...toPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5, -0.5, 1 / 65536]))],
    [0, 32767, -32768, 32767, -32768, 16384, -16384, 0]);
  const joined = concatSamples([Float32Array.from([1, 2]), new Float32Array(0), Float32Array.from([3])]);
  assert.deepEqual([...joined], [1, 2, 3]);
});
