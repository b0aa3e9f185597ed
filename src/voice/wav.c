/*
 * voice/wav.c: WAV files (untrusted bytes) to 16 kHz mono 16-bit samples.
 *
 * The RIFF chunk walk reads through a bounds-checked kreader: every chunk
 * must fit in what is left, at most VOICE_WAV_CHUNKS_MAX of them. Samples
 * are mixed to mono as floats, then resampled to 16 kHz by a windowed-sinc
 * filter (Kaiser window) whose cut-off sits below the lower of the two
 * Nyquist frequencies, so downsampling does not alias.
 */
#include "voice/voice.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAV_FORMAT_PCM 1
#define WAV_FORMAT_FLOAT 3
#define WAV_FORMAT_EXTENSIBLE 0xFFFE
#define WAV_FMT_MIN_BYTES 16
#define WAV_FMT_EXT_BYTES 40
#define WAV_HEADER_BYTES 12
#define WAV_CHUNK_HEADER_BYTES 8
#define WAV_SIZE_STREAMING 0xFFFFFFFFu
#define WAV_CHANNELS_MAX 2

/* Resampler: zero crossings of the sinc on each side (at the lower rate),
 * table steps per zero crossing, pass band as a fraction of the lower
 * Nyquist frequency, Kaiser window shape. */
#define RS_ZEROS 16
#define RS_STEPS 256
#define RS_TABLE_LEN (RS_ZEROS * RS_STEPS + 2)
#define RS_PASSBAND 0.92
#define RS_KAISER_BETA 8.6

typedef struct wav_fmt {
    uint16_t channels;
    uint32_t rate_hz;
    uint16_t block_align;
    uint16_t bits;
    bool is_float;
} wav_fmt;

/* The tail shared by the KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT GUIDs (the
 * first two bytes are the format tag). */
static const uint8_t WAV_GUID_TAIL[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                          0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

static bool rd_u16(kreader *r, uint16_t *v)
{
    const uint8_t *p;
    if (!kreader_raw(r, 2, &p))
        return false;
    *v = (uint16_t)(p[0] | (p[1] << 8));
    return true;
}

/* A chunk id for messages: printable ASCII only, never raw input bytes. */
static void chunk_name(const uint8_t id[4], char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (id[i] >= 0x20 && id[i] < 0x7f) ? (char)id[i] : '?';
    out[4] = '\0';
}

static int parse_fmt(const uint8_t *p, size_t n, wav_fmt *f, kassa_err *err)
{
    if (n < WAV_FMT_MIN_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "WAV: 'fmt ' chunk of %zu bytes, need %d", n,
                          WAV_FMT_MIN_BYTES);
    kreader r;
    kreader_init(&r, p, n);
    uint16_t tag = 0;
    uint32_t byte_rate = 0;
    rd_u16(&r, &tag);
    rd_u16(&r, &f->channels);
    kreader_u32le(&r, &f->rate_hz);
    kreader_u32le(&r, &byte_rate);
    rd_u16(&r, &f->block_align);
    rd_u16(&r, &f->bits);
    if (tag == WAV_FORMAT_EXTENSIBLE) {
        if (n < WAV_FMT_EXT_BYTES)
            return kassa_fail(err, KASSA_EINVAL,
                              "WAV: extensible 'fmt ' chunk of %zu bytes, need %d", n,
                              WAV_FMT_EXT_BYTES);
        uint16_t cb_size = 0, valid_bits = 0;
        uint32_t channel_mask = 0;
        const uint8_t *guid = NULL;
        rd_u16(&r, &cb_size);
        rd_u16(&r, &valid_bits);
        kreader_u32le(&r, &channel_mask);
        kreader_raw(&r, 16, &guid);
        if (r.bad || !guid || memcmp(guid + 2, WAV_GUID_TAIL, sizeof WAV_GUID_TAIL) != 0)
            return kassa_fail(err, KASSA_EINVAL, "WAV: extensible format with an unknown subtype");
        tag = (uint16_t)(guid[0] | (guid[1] << 8));
        if (valid_bits != 0 && valid_bits != f->bits)
            return kassa_fail(err, KASSA_EINVAL,
                              "WAV: %u valid bits in %u-bit containers are not supported",
                              (unsigned)valid_bits, (unsigned)f->bits);
    }
    assert(!r.bad);
    if (tag == WAV_FORMAT_PCM) {
        if (f->bits != 8 && f->bits != 16 && f->bits != 24 && f->bits != 32)
            return kassa_fail(err, KASSA_EINVAL,
                              "WAV: %u-bit PCM is not supported (8, 16, 24 or 32)",
                              (unsigned)f->bits);
        f->is_float = false;
    } else if (tag == WAV_FORMAT_FLOAT) {
        if (f->bits != 32)
            return kassa_fail(err, KASSA_EINVAL, "WAV: %u-bit float is not supported (32 only)",
                              (unsigned)f->bits);
        f->is_float = true;
    } else {
        return kassa_fail(err, KASSA_EINVAL,
                          "WAV: encoding %u is not supported (PCM or IEEE float only)",
                          (unsigned)tag);
    }
    if (f->channels == 0 || f->channels > WAV_CHANNELS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "WAV: %u channels; only mono or stereo are accepted",
                          (unsigned)f->channels);
    if (f->rate_hz < VOICE_WAV_RATE_MIN_HZ || f->rate_hz > VOICE_WAV_RATE_MAX_HZ)
        return kassa_fail(
            err, KASSA_EINVAL, "WAV: sample rate %u Hz is not supported (%u to %u Hz)",
            (unsigned)f->rate_hz, (unsigned)VOICE_WAV_RATE_MIN_HZ, (unsigned)VOICE_WAV_RATE_MAX_HZ);
    unsigned want_align = (unsigned)f->channels * f->bits / 8;
    if (f->block_align != want_align)
        return kassa_fail(err, KASSA_EINVAL, "WAV: block align %u, expected %u for %u x %u-bit",
                          (unsigned)f->block_align, want_align, (unsigned)f->channels,
                          (unsigned)f->bits);
    return KASSA_OK;
}

/* One sample of channel data at p as a float in [-1, 1]. */
static float sample_at(const uint8_t *p, const wav_fmt *f)
{
    switch (f->bits) {
    case 8:
        return ((float)p[0] - 128.0f) / 128.0f;
    case 16:
        return (float)(int16_t)(uint16_t)(p[0] | (p[1] << 8)) / 32768.0f;
    case 24: {
        uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
        int32_t v = (int32_t)(u << 8) >> 8;
        return (float)v / 8388608.0f;
    }
    default: {
        uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        if (!f->is_float)
            return (float)((double)(int32_t)u / 2147483648.0);
        float x;
        memcpy(&x, &u, sizeof x);
        if (isnan(x))
            return 0.0f;
        return x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
    }
    }
}

static int16_t to_s16(double x)
{
    double v = x * 32768.0;
    if (!(v > -32768.0)) /* also NaN */
        return -32768;
    if (v >= 32767.0)
        return 32767;
    return (int16_t)lrint(v);
}

static double bessel_i0(double x)
{
    /* Power series; converges quickly for the arguments used (< 10). */
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 50; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-12)
            break;
    }
    return sum;
}

/* table[i] = sinc(i / RS_STEPS) * kaiser, for i / RS_STEPS zero crossings. */
static void rs_table(float table[RS_TABLE_LEN])
{
    double i0_beta = bessel_i0(RS_KAISER_BETA);
    for (int i = 0; i < RS_TABLE_LEN; i++) {
        double x = (double)i / RS_STEPS;
        double r = x / RS_ZEROS;
        if (r >= 1.0) {
            table[i] = 0.0f;
            continue;
        }
        double sinc = i == 0 ? 1.0 : sin(M_PI * x) / (M_PI * x);
        double w = bessel_i0(RS_KAISER_BETA * sqrt(1.0 - r * r)) / i0_beta;
        table[i] = (float)(sinc * w);
    }
}

/* Resamples in[0 .. n_in) at rate_hz to out at 16 kHz (n_out samples). */
static void resample(const float *in, size_t n_in, uint32_t rate_hz, int16_t *out, size_t n_out)
{
    static_assert(RS_TABLE_LEN * sizeof(float) <= 32 * 1024, "resampler table on the stack");
    float table[RS_TABLE_LEN];
    rs_table(table);
    uint32_t lower = rate_hz < VOICE_SAMPLE_RATE_HZ ? rate_hz : VOICE_SAMPLE_RATE_HZ;
    /* Zero crossings per input sample of the filter's sinc. */
    double scale = RS_PASSBAND * (double)lower / (double)rate_hz;
    double half_width = RS_ZEROS / scale;
    for (size_t n = 0; n < n_out; n++) {
        uint64_t num = (uint64_t)n * rate_hz;
        double t = (double)(num / VOICE_SAMPLE_RATE_HZ) +
                   (double)(num % VOICE_SAMPLE_RATE_HZ) / VOICE_SAMPLE_RATE_HZ;
        double lo = ceil(t - half_width), hi = floor(t + half_width);
        size_t kmin = lo < 0 ? 0 : (size_t)lo;
        size_t kmax = hi >= (double)(n_in - 1) ? n_in - 1 : (size_t)hi;
        double acc = 0.0;
        for (size_t k = kmin; k <= kmax; k++) {
            double x = fabs(t - (double)k) * scale * RS_STEPS;
            size_t i = (size_t)x;
            if (i >= RS_TABLE_LEN - 1)
                continue;
            double frac = x - (double)i;
            double w = table[i] + frac * (table[i + 1] - table[i]);
            acc += in[k] * w;
        }
        out[n] = to_s16(acc * scale);
    }
}

int voice_wav_decode(const uint8_t *data, size_t len, voice_audio *out, kassa_err *err)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (!data || len < WAV_HEADER_BYTES || memcmp(data, "RIFF", 4) != 0 ||
        memcmp(data + 8, "WAVE", 4) != 0)
        return kassa_fail(err, KASSA_EINVAL, "not a WAV file (no RIFF/WAVE header)");
    if (len > VOICE_WAV_MAX_BYTES)
        return kassa_fail(err, KASSA_EINVAL, "WAV file of %zu bytes; at most %u", len,
                          (unsigned)VOICE_WAV_MAX_BYTES);
    kreader r;
    kreader_init(&r, data, len);
    const uint8_t *skip;
    uint32_t riff_size = 0;
    kreader_raw(&r, 4, &skip);
    kreader_u32le(&r, &riff_size);
    kreader_raw(&r, 4, &skip);
    /* A RIFF size smaller than the file ends the chunks early (trailing
     * bytes are not ours); a larger one is a truncated or streamed file,
     * and the chunk sizes decide; 0 is a streaming writer's "unknown". */
    if (riff_size > 0 && riff_size < 4)
        return kassa_fail(err, KASSA_EINVAL, "WAV: RIFF size %u is too small", (unsigned)riff_size);
    if (riff_size > 0 && (uint64_t)riff_size + 8 < len)
        r.len = (size_t)riff_size + 8;

    wav_fmt fmt;
    bool have_fmt = false;
    const uint8_t *pcm = NULL;
    size_t pcm_len = 0;
    for (int chunks = 0; !(have_fmt && pcm); chunks++) {
        if (kreader_left(&r) < WAV_CHUNK_HEADER_BYTES)
            return kassa_fail(err, KASSA_EINVAL, "WAV: no '%s' chunk", have_fmt ? "data" : "fmt ");
        if (chunks == VOICE_WAV_CHUNKS_MAX)
            return kassa_fail(err, KASSA_EINVAL, "WAV: more than %d chunks before the audio",
                              VOICE_WAV_CHUNKS_MAX);
        const uint8_t *id;
        uint32_t size;
        kreader_raw(&r, 4, &id);
        kreader_u32le(&r, &size);
        char name[5];
        chunk_name(id, name);
        size_t left = kreader_left(&r);
        bool is_data = memcmp(id, "data", 4) == 0;
        if (is_data && size == WAV_SIZE_STREAMING)
            size = left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
        if (size > left)
            return kassa_fail(err, KASSA_EINVAL,
                              "WAV: chunk '%s' declares %u bytes but only %zu remain (truncated)",
                              name, (unsigned)size, left);
        const uint8_t *body;
        kreader_raw(&r, size, &body);
        if (size % 2 == 1 && kreader_left(&r) > 0) /* pad byte */
            kreader_raw(&r, 1, &skip);
        if (memcmp(id, "fmt ", 4) == 0 && !have_fmt) {
            int rc = parse_fmt(body, size, &fmt, err);
            if (rc != KASSA_OK)
                return rc;
            have_fmt = true;
        } else if (is_data && !pcm) {
            pcm = size ? body : data; /* non-NULL marks it found */
            pcm_len = size;
        }
    }
    assert(!r.bad);

    size_t frames = pcm_len / fmt.block_align;
    if (frames == 0)
        return kassa_fail(err, KASSA_EINVAL, "empty audio: the WAV file has no samples");
    if ((uint64_t)frames * 1000 > (uint64_t)VOICE_AUDIO_MAX_MS * fmt.rate_hz)
        return kassa_fail(err, KASSA_EINVAL, "audio is %.1f s long; at most %d s are accepted",
                          (double)frames / fmt.rate_hz, VOICE_AUDIO_MAX_MS / 1000);

    uint64_t n_out64 = ((uint64_t)frames * VOICE_SAMPLE_RATE_HZ + fmt.rate_hz - 1) / fmt.rate_hz;
    size_t n_out = (size_t)n_out64;
    assert(n_out64 <= VOICE_AUDIO_MAX_SAMPLES + 1);
    if (n_out == 0)
        return kassa_fail(err, KASSA_EINVAL, "empty audio: the WAV file has no samples");
    int16_t *samples = malloc(n_out * sizeof *samples);
    float *mono = malloc(frames * sizeof *mono);
    if (!samples || !mono) {
        free(samples);
        free(mono);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory decoding %zu audio frames", frames);
    }
    size_t bytes_per_sample = fmt.bits / 8u;
    for (size_t i = 0; i < frames; i++) {
        const uint8_t *p = pcm + i * fmt.block_align;
        float sum = 0.0f;
        for (unsigned c = 0; c < fmt.channels; c++)
            sum += sample_at(p + c * bytes_per_sample, &fmt);
        mono[i] = sum / (float)fmt.channels;
    }
    if (fmt.rate_hz == VOICE_SAMPLE_RATE_HZ) {
        assert(n_out == frames);
        for (size_t i = 0; i < frames; i++)
            samples[i] = to_s16(mono[i]);
    } else {
        resample(mono, frames, fmt.rate_hz, samples, n_out);
    }
    free(mono);
    out->samples = samples;
    out->n_samples = n_out;
    out->source_rate_hz = fmt.rate_hz;
    out->source_channels = fmt.channels;
    out->source_bits = fmt.bits;
    out->source_float = fmt.is_float;
    return KASSA_OK;
}

void voice_audio_free(voice_audio *a)
{
    if (!a)
        return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}

int voice_wav_encode(const int16_t *samples, size_t n_samples, uint32_t rate_hz, uint16_t channels,
                     kbuf *out, kassa_err *err)
{
    if (rate_hz == 0 || rate_hz > VOICE_WAV_RATE_MAX_HZ || channels == 0 ||
        channels > WAV_CHANNELS_MAX)
        return kassa_fail(err, KASSA_EINVAL, "WAV encode: bad rate %u or channels %u",
                          (unsigned)rate_hz, (unsigned)channels);
    if (n_samples % channels != 0 || n_samples > (VOICE_WAV_MAX_BYTES - 44) / 2)
        return kassa_fail(err, KASSA_EINVAL, "WAV encode: %zu samples do not fit", n_samples);
    uint32_t data_bytes = (uint32_t)(n_samples * 2);
    kbuf_put(out, "RIFF", 4);
    kbuf_put_u32le(out, 36 + data_bytes);
    kbuf_put(out, "WAVEfmt ", 8);
    kbuf_put_u32le(out, 16);
    uint8_t fmt[16];
    uint16_t block = (uint16_t)(channels * 2);
    uint32_t byte_rate = rate_hz * block;
    fmt[0] = WAV_FORMAT_PCM;
    fmt[1] = 0;
    fmt[2] = (uint8_t)channels;
    fmt[3] = 0;
    for (int i = 0; i < 4; i++) {
        fmt[4 + i] = (uint8_t)(rate_hz >> (8 * i));
        fmt[8 + i] = (uint8_t)(byte_rate >> (8 * i));
    }
    fmt[12] = (uint8_t)block;
    fmt[13] = 0;
    fmt[14] = 16;
    fmt[15] = 0;
    kbuf_put(out, fmt, sizeof fmt);
    kbuf_put(out, "data", 4);
    kbuf_put_u32le(out, data_bytes);
    for (size_t i = 0; i < n_samples; i++) {
        uint16_t u = (uint16_t)samples[i];
        uint8_t b[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
        kbuf_put(out, b, 2);
    }
    if (out->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory encoding WAV");
    return KASSA_OK;
}
