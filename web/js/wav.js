// Audio for voice ordering, as the terminal takes it: 16 kHz, mono, 16-bit
// PCM in a WAV file (docs/VOICE.md). The browser records at its own rate
// (usually 48 kHz) in 32-bit floats; these turn that into the file. No DOM
// here: the module runs in node too (tests/browser/wav.test.mjs).

export const VOICE_RATE_HZ = 16000;
export const WAV_HEADER_BYTES = 44;

// Resampling filter: a Blackman-windowed sinc low-pass with this many
// zero crossings each side, its cutoff this fraction of the lower Nyquist
// frequency (7.36 kHz for 16 kHz), read from a table of KERNEL_RES points
// per zero crossing.
const ZERO_CROSSINGS = 16;
const ROLLOFF = 0.92;
const KERNEL_RES = 512;

let kernelTable = null;

/** The windowed sinc from 0 to ZERO_CROSSINGS zero crossings, tabulated. */
function kernel() {
  if (kernelTable) return kernelTable;
  const n = ZERO_CROSSINGS * KERNEL_RES;
  kernelTable = new Float64Array(n + 2); // one past the end: the interpolation reads it
  for (let i = 0; i <= n; i++) {
    const z = i / KERNEL_RES; // in zero crossings
    const sinc = i === 0 ? 1 : Math.sin(Math.PI * z) / (Math.PI * z);
    const w = 0.42 + 0.5 * Math.cos((Math.PI * z) / ZERO_CROSSINGS) + 0.08 * Math.cos((2 * Math.PI * z) / ZERO_CROSSINGS);
    kernelTable[i] = sinc * w;
  }
  return kernelTable;
}

/**
 * `samples` (floats) at `fromHz` to `toHz` (band-limited: a windowed-sinc
 * low-pass below the lower of the two Nyquist frequencies, so hiss above
 * 8 kHz is not folded into the speech band). The gain at 0 Hz is exactly 1,
 * at the edges too. The output has floor(n × toHz / fromHz) samples.
 * @param {Float32Array} samples
 * @param {number} fromHz
 * @param {number} [toHz]
 * @returns {Float32Array}
 */
export function resample(samples, fromHz, toHz = VOICE_RATE_HZ) {
  if (!(fromHz > 0 && toHz > 0)) throw new RangeError(`sample rates must be positive: ${fromHz} → ${toHz}`);
  const n = samples.length;
  if (fromHz === toHz) return Float32Array.from(samples);
  const outLen = Math.floor((n * toHz) / fromHz);
  const out = new Float32Array(outLen);
  const table = kernel();
  const step = fromHz / toHz; // input samples per output sample
  // Zero crossings per input sample: the cutoff, in cycles per input
  // sample, times two.
  const zPerSample = Math.min(1, toHz / fromHz) * ROLLOFF;
  const half = Math.ceil(ZERO_CROSSINGS / zPerSample); // input samples each side
  for (let i = 0; i < outLen; i++) {
    const x = i * step;
    const first = Math.max(0, Math.ceil(x - half));
    const last = Math.min(n - 1, Math.floor(x + half));
    let sum = 0;
    let weights = 0;
    for (let k = first; k <= last; k++) {
      const t = Math.abs(x - k) * zPerSample * KERNEL_RES;
      const j = Math.floor(t);
      if (j >= ZERO_CROSSINGS * KERNEL_RES) continue;
      const w = table[j] + (table[j + 1] - table[j]) * (t - j);
      sum += samples[k] * w;
      weights += w;
    }
    out[i] = weights !== 0 ? sum / weights : 0;
  }
  return out;
}

/** Floats in [-1, 1] (clipped beyond) to 16-bit signed integers. */
export function toPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
  }
  return out;
}

/**
 * A canonical WAV file (RIFF, "fmt " PCM, "data") of 16-bit mono samples.
 * @param {Int16Array} pcm
 * @param {number} [rateHz]
 * @returns {Uint8Array}
 */
export function encodeWav(pcm, rateHz = VOICE_RATE_HZ) {
  const dataBytes = pcm.length * 2;
  const buf = new ArrayBuffer(WAV_HEADER_BYTES + dataBytes);
  const v = new DataView(buf);
  const ascii = (at, s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true); // what follows these 8 bytes
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true); // fmt chunk size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rateHz, true);
  v.setUint32(28, rateHz * 2, true); // bytes per second
  v.setUint16(32, 2, true); // bytes per frame
  v.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < pcm.length; i++) v.setInt16(WAV_HEADER_BYTES + i * 2, pcm[i], true);
  return new Uint8Array(buf);
}

/** Recorded floats at `rateHz` to the WAV file the terminal takes. */
export function voiceWav(samples, rateHz) {
  return encodeWav(toPcm16(resample(samples, rateHz, VOICE_RATE_HZ)), VOICE_RATE_HZ);
}

/** Join recorded blocks (Float32Arrays) into one. */
export function concatSamples(blocks) {
  let n = 0;
  for (const b of blocks) n += b.length;
  const out = new Float32Array(n);
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
